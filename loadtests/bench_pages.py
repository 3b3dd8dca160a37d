"""The staff pages at scale: /incidences and /uploads with 1,000 and 100,000 records side by side.

    python -m loadtests.bench_pages [--records 100000] [--small 1000] [--repeats 25]
                                    [--database-url postgresql+psycopg://...] [--out results/bench_pages.json]

Each database (SQLite by default; a PostgreSQL URL adds a run there, in a schema of its
own, dropped at the end) is migrated and filled with `--records` incidences and as many
upload records (bulk inserts), then each page is fetched `--repeats` times through the
app (HTML, as a browser asks), interleaved, and the median and p95 are printed with the
ratio of the large to the small database. Pages: the newest incidences, a sector, a
facility search that matches nothing (the worst case: the whole table is read), an id, a
page deep in the cursor chain; the newest uploads, a rare status (`interrupted`), route
and path, and one incidence page. Target (issue 14): a few tens of ms at 100,000.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, text

from loadtests.results import publish

ROOT = Path(__file__).resolve().parents[1]
SECTORS = ("Oil and Gas", "Landfill", "Dairy Digester", "Energy", "Generic")
# Facility names as operators write them: a place, a kind of site, a number.
PLACES = ("Kern", "Belridge", "Midway", "Sunset", "Lost Hills", "Coalinga", "Elk Hills", "Buena Vista", "Cymric",
          "McKittrick", "Puente", "Sunshine", "Altamont", "Hilmar", "Tulare", "Chino", "Placerita", "Wilmington")
SITES = ("Well Pad", "Tank Battery", "Compressor Station", "Landfill", "Dairy", "Digester", "Gas Plant", "Field Unit")
T0 = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)


def fill(url: str, records: int, seed: int = 7) -> None:
    """Migrate the database at `url` and add `records` incidences and upload records."""
    from app.ingest.database import upgrade_schema
    from app.ingest.models import Incidence, UploadedFile

    engine = create_engine(url)
    upgrade_schema(engine)
    rng = random.Random(seed)
    incidences, uploads = [], []
    for n in range(1, records + 1):
        sector = SECTORS[n % len(SECTORS)]
        when = T0 + dt.timedelta(seconds=n * 37)
        facility = f"{rng.choice(PLACES)} {rng.choice(SITES)} {rng.randrange(1000)}"
        incidences.append({"id_incidence": n, "misc_json": {"id_incidence": n, "facility_name": facility, "sector": sector},
                           "sector": sector, "facility_name": facility, "created_at": when, "updated_at": when,
                           "updated_by": "bench"})
        status = "interrupted" if n % 997 == 0 else "failed" if n % 41 == 0 else "processed"
        uploads.append({"path": None, "original_filename": f"form{n}.xlsx", "status": status,
                        "description": "the uploaded file is empty" if status == "failed" else None,
                        "error_type": "file_error" if status == "failed" else None,
                        "route": "staged" if n % 3 == 0 else "direct", "ingest_path": "refactored" if n % 2 else "original",
                        "user": f"anon-{n:016x}", "size_bytes": 20_000, "sha256": None, "id_incidence": n,
                        "created_at": when, "updated_at": when})
    with engine.begin() as conn:
        for start in range(0, records, 5000):
            conn.execute(insert(Incidence.__table__), incidences[start:start + 5000])
            conn.execute(insert(UploadedFile.__table__), uploads[start:start + 5000])
    engine.dispose()


def _pages(client, records: int) -> dict[str, str]:
    """The URLs measured; the deep one follows the cursor chain 10 pages down first."""
    url = "/incidences"
    for _ in range(10):
        after = client.get(url, headers={"Accept": "application/json"}).get_json()["next"]
        url = f"/incidences?after={after}"
    return {
        "incidences, newest": "/incidences",
        "incidences, sector": "/incidences?sector=Landfill",
        "incidences, facility found": "/incidences?facility=hills+tank+battery+12",
        "incidences, facility not found": "/incidences?facility=no+such+place",
        "incidences, by id": f"/incidences?id={records // 2}",
        "incidences, page 11": url,
        "uploads, newest": "/uploads",
        "uploads, interrupted": "/uploads?status=interrupted",
        "uploads, staged refactored": "/uploads?route=staged&path=refactored",
        "one incidence": f"/incidence_update/{records // 2}",
    }


def measure(url: str, repeats: int, records: int) -> dict[str, dict[str, float]]:
    """Median and p95 (ms) of each page on the database at `url`."""
    from app import create_app
    from app.compose import services_of
    from app.config import Settings

    with tempfile.TemporaryDirectory(prefix="bench-pages-") as scratch:
        settings = Settings(instance_path=Path(scratch), database_url=url, flag_store_url="memory://",
                            upload_folder=Path(scratch) / "uploads", secret_key="b" * 40, environment="test")
        app = create_app(settings=settings)
        client = app.test_client()
        pages = _pages(client, records)
        times: dict[str, list[float]] = {name: [] for name in pages}
        for name, page in pages.items():  # warm up
            assert client.get(page).status_code == 200, page
        for r in range(repeats):
            order = list(pages.items())
            order = order[r % len(order):] + order[:r % len(order)]
            for name, page in order:
                started = time.perf_counter()
                response = client.get(page)
                times[name].append(time.perf_counter() - started)
                assert response.status_code == 200
        services_of(app).db.dispose()
    return {name: {"p50_ms": statistics.median(v) * 1000, "p95_ms": sorted(v)[int(0.95 * (len(v) - 1))] * 1000}
            for name, v in times.items()}


def _postgres(base_url: str, records: int, repeats: int) -> dict[str, Any]:
    import uuid

    admin = create_engine(base_url)
    results = {}
    try:
        for size in (records,):
            schema = f"bench_pages_{uuid.uuid4().hex[:8]}"
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            sep = "&" if "?" in base_url else "?"
            url = f"{base_url}{sep}options=-csearch_path%3D{schema}"
            try:
                fill(url, size)
                engine = create_engine(url)
                with engine.begin() as conn:
                    conn.execute(text("ANALYZE"))
                engine.dispose()
                results[size] = measure(url, repeats, size)
            finally:
                with admin.begin() as conn:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()
    return results


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Fill, measure, publish."""
    parser = argparse.ArgumentParser(prog="python -m loadtests.bench_pages")
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--repeats", type=int, default=25)
    parser.add_argument("--database-url", help="also measure on this PostgreSQL (a schema of its own)")
    parser.add_argument("--out", default=str(ROOT / "results" / "bench_pages.json"))
    args = parser.parse_args([] if argv is None else argv)
    figures: dict[str, Any] = {"records": args.records, "small": args.small, "repeats": args.repeats, "sqlite": {}}
    with tempfile.TemporaryDirectory(prefix="bench-pages-db-") as folder:
        for size in (args.small, args.records):
            url = f"sqlite:///{folder}/pages_{size}.db"
            started = time.perf_counter()
            fill(url, size)
            print(f"sqlite: {size} records filled in {time.perf_counter() - started:.1f} s", flush=True)
            figures["sqlite"][size] = measure(url, args.repeats, size)
    if args.database_url:
        figures["postgresql"] = _postgres(args.database_url, args.records, args.repeats)
    small, large = figures["sqlite"][args.small], figures["sqlite"][args.records]
    lines = [f"Pages through the app (HTML), median and p95 of {args.repeats} fetches each, interleaved.", "",
             f"| page | SQLite {args.small:,} p50 ms | SQLite {args.records:,} p50 ms | p95 ms | ratio |"
             + (f" PostgreSQL {args.records:,} p50 ms | p95 ms |" if args.database_url else ""),
             "| --- | ---: | ---: | ---: | ---: |" + (" ---: | ---: |" if args.database_url else "")]
    for name in large:
        row = (f"| {name} | {small[name]['p50_ms']:.1f} | {large[name]['p50_ms']:.1f} | {large[name]['p95_ms']:.1f} | "
               f"{large[name]['p50_ms'] / small[name]['p50_ms']:.2f} |")
        if args.database_url:
            pg = figures["postgresql"][args.records][name]
            row += f" {pg['p50_ms']:.1f} | {pg['p95_ms']:.1f} |"
        lines.append(row)
    publish(args.out, figures, "\n".join(lines))
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
    sys.exit(0)
