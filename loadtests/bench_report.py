"""Report benchmark: `harness report` over 1,000,000 upload records, on SQLite and PostgreSQL.

    python -m loadtests.bench_report [--records 1000000] [--postgres URL] [--out results/bench_report.json]

A generator fills a fresh database (SQLite: one executemany; PostgreSQL: COPY) with a
simulated day of traffic at a 50% rollout; then the report runs in-process as the command
does (load the window, compute, write HTML/JSON/Markdown), timed by phase. The query plan
of the window query is printed, to show it reads the window index. Target (issue 11): the
report in under 10 s on each database. PostgreSQL comes from --postgres, else
HARNESS_BENCH_POSTGRES_URL or HARNESS_TEST_POSTGRES_URL (its own schema, dropped after).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, text

from app.harness.analysis import loading
from app.harness.analysis.evidence import PercentHistory
from app.harness.analysis.render import write_all
from app.harness.analysis.report import build_report
from app.harness.analysis.simulate import Scenario, simulate
from app.harness.analysis.window import Window
from app.ingest.database import upgrade_schema
from loadtests.report_data import fill_uploads
from loadtests.results import publish

ROOT = Path(__file__).resolve().parents[1]
DAY = 86_400.0


def explain(engine, query) -> str:
    """The database's plan for `query`."""
    compiled = query.compile(engine, compile_kwargs={"literal_binds": True})
    prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(prefix + str(compiled)).all()
    return "\n".join(" | ".join(str(c) for c in row) for row in rows)


def plans(engine, window: Window) -> dict[str, str]:
    """The plans of the report's three queries over the whole day, and of the counts query
    over its last hour (a rollout gate's window)."""
    hour = Window(window.end - dt.timedelta(hours=1), window.end)
    labels = ("percentage", "off", "pinned"), ("Energy", "Landfill")
    scan = engine.dialect.name == "sqlite"  # as load_samples does for a window holding most of the table
    return {"uploads (day)": explain(engine, loading.packed_query(engine, window, None, *labels, scan=scan)),
            "users (day)": explain(engine, loading.units_query(engine, window, scan=scan)),
            "uploads (last hour, direct)": explain(engine, loading.packed_query(engine, hour, "direct", *labels)),
            "users (last hour, direct)": explain(engine, loading.units_query(engine, hour, "direct"))}


def run_on(engine, records: int, out: Path) -> dict:
    """Fill, explain, and time the report on one database."""
    upgrade_schema(engine)
    end = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    start = end - dt.timedelta(seconds=DAY)
    rng = np.random.default_rng(11)
    per_route = {"direct": records * 3 // 4, "staged": records - records * 3 // 4}
    t = time.perf_counter()
    for route, n in per_route.items():
        fill_uploads(engine, simulate(Scenario(n, users=50_000, route=route, start=start.timestamp(), seconds=DAY), rng))
    filled = time.perf_counter() - t
    window = Window(start, end + dt.timedelta(seconds=1))
    found = plans(engine, window)
    plan = "\n".join(f"-- {name}\n{text}" for name, text in found.items())
    print(f"\n[{engine.dialect.name}] filled {records:,} records in {filled:.1f} s; query plans:\n{plan}\n")
    phases = {}
    t0 = time.perf_counter()
    samples = loading.load_samples(engine, window)
    phases["load"] = time.perf_counter() - t0
    t = time.perf_counter()
    report = build_report(samples, window, now=end, percents={r: PercentHistory((), 50.0) for r in samples},
                          mismatches=loading.load_mismatches(engine, window))
    phases["compute"] = time.perf_counter() - t
    t = time.perf_counter()
    write_all(report, out)
    phases["render"] = time.perf_counter() - t
    phases["total"] = time.perf_counter() - t0
    loaded = sum(len(s.original) + len(s.refactored) for s in samples.values())
    return {"records": records, "loaded": loaded, "fill_seconds": filled, "phases": phases, "plan": plan,
            "uses_window_index": "ix_uploaded_files_window" in plan, "verdict": report.verdict}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m loadtests.bench_report")
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--postgres", default=os.environ.get("HARNESS_BENCH_POSTGRES_URL")
                        or os.environ.get("HARNESS_TEST_POSTGRES_URL"))
    parser.add_argument("--out", default=str(ROOT / "results" / "bench_report.json"))
    args = parser.parse_args(argv)
    figures: dict = {"records": args.records, "databases": {}}
    with tempfile.TemporaryDirectory(prefix="bench-report-") as scratch:
        engine = create_engine(f"sqlite:///{scratch}/portal.db")
        figures["databases"]["sqlite"] = run_on(engine, args.records, Path(scratch) / "report")
        engine.dispose()
        if args.postgres:
            schema = f"bench_report_{os.getpid()}"
            admin = create_engine(args.postgres)
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            try:
                engine = create_engine(args.postgres, connect_args={"options": f"-csearch_path={schema}"})
                figures["databases"]["postgresql"] = run_on(engine, args.records, Path(scratch) / "report-pg")
                engine.dispose()
            finally:
                with admin.begin() as conn:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()
    lines = [f"Report over {args.records:,} upload records (a simulated day, both routes), in-process as "
             "`harness report` runs.", "", "| database | load s | compute s | render s | total s | window index | target |",
             "|---|---|---|---|---|---|---|"]
    for name, f in figures["databases"].items():
        p = f["phases"]
        lines.append(f"| {name} | {p['load']:.2f} | {p['compute']:.2f} | {p['render']:.2f} | **{p['total']:.2f}** | "
                     f"{'yes' if f['uses_window_index'] else 'NO'} | < 10 s |")
    if "postgresql" not in figures["databases"]:
        lines.append("\nPostgreSQL skipped: set HARNESS_BENCH_POSTGRES_URL or pass --postgres.")
    publish(args.out, figures, "\n".join(lines))
    return figures


if __name__ == "__main__":
    main()
