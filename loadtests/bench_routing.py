"""Routing overhead and metrics scrape cost, measured side by side.

    python -m loadtests.bench_routing [--rounds 30] [--uploads 10000] [--out results/bench_routing.json]

1. Routed vs pinned: `POST /upload` with `refactored_upload` at 100% (so the router sends
   everyone to the refactored path) against `POST /upload_refactored`, the same workbooks,
   interleaved in a rotating order, through the app's WSGI interface on SQLite. Target
   (issue 4): routed at most 3% slower at the median.
2. Scrape: real gunicorn with 2 workers (`harness serve`), `--uploads` uploads sent over
   HTTP from 8 threads, then `/metrics` scraped 50 times; the scrape latency is reported.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from app.compose import services_of
from loadtests.bench_ingest import wsgi_post
from loadtests.csrf import CsrfSession
from loadtests.multipart import encode_multipart
from loadtests.results import publish
from loadtests.server import Server

ROOT = Path(__file__).resolve().parents[1]


def _workbooks(count: int = 12) -> list[bytes]:
    from app.forms import all_schemas
    from app.workbook.generator import generate_workbook

    schemas = [s.name for s in all_schemas()]
    return [generate_workbook(schemas[n % len(schemas)], "good", seed=n).data for n in range(count)]


def bench_routed_vs_pinned(rounds: int) -> dict[str, Any]:
    """Median latency of routed and pinned uploads of the same path, interleaved."""
    from app import create_app
    from app.config import Settings
    from app.ingest.database import Database

    scratch = ROOT / "results"
    scratch.mkdir(exist_ok=True)
    bodies = [encode_multipart(data, f"form{n}.xlsx") for n, data in enumerate(_workbooks())]
    with tempfile.TemporaryDirectory(prefix="bench-routing-", dir=scratch) as tmp:
        instance = Path(tmp)
        url = f"sqlite:///{instance}/portal.db"
        Database(url).upgrade()
        app = create_app(settings=Settings(
            instance_path=instance, database_url=url, flag_store_url=url, upload_folder=instance / "uploads",
            secret_key="bench-" + "k" * 40, environment="test", trust_user_header=True))
        services_of(app).flags.set_percent("refactored_upload", 100, actor="bench")
        variants = {"pinned": "/upload_refactored", "routed": "/upload"}
        for body in bodies:  # warm up
            for path in variants.values():
                wsgi_post(app, path, *body)
        timings: dict[str, list[float]] = {name: [] for name in variants}
        order = list(variants)
        for _ in range(rounds):
            for body in bodies:
                for name in order:
                    started = time.perf_counter()
                    status, text = wsgi_post(app, variants[name], *body)
                    timings[name].append(time.perf_counter() - started)
                    if status != 200:
                        raise RuntimeError(f"{variants[name]}: {status} {text[:200]}")
            order.reverse()
        services_of(app).db.dispose()
    result = {name: {"n": len(v), "p50_ms": statistics.median(v) * 1000, "mean_ms": statistics.fmean(v) * 1000}
              for name, v in timings.items()}
    result["routed_vs_pinned_p50"] = result["routed"]["p50_ms"] / result["pinned"]["p50_ms"]
    return result


def bench_scrape(uploads: int) -> dict[str, Any]:
    """Scrape time of /metrics after `uploads` uploads across 2 gunicorn workers."""
    bodies = [encode_multipart(data, f"form{n}.xlsx") for n, data in enumerate(_workbooks(6))]
    with tempfile.TemporaryDirectory(prefix="bench-scrape-", dir=ROOT / "results") as tmp:
        with Server(Path(tmp) / "instance", workers=2, log_path=Path(tmp) / "server.log") as base:
            csrf = CsrfSession.fetch(base)

            def upload(n: int) -> int:
                body, content_type = bodies[n % len(bodies)]
                request = urllib.request.Request(f"{base}/upload_refactored", data=body, method="POST", headers={
                    "Content-Type": content_type, "Accept": "application/json", "X-Portal-User": f"user-{n % 500}",
                    **csrf.headers})
                with urllib.request.urlopen(request, timeout=60) as response:
                    return response.status

            started = time.perf_counter()
            with ThreadPoolExecutor(8) as pool:
                statuses = list(pool.map(upload, range(uploads)))
            upload_seconds = time.perf_counter() - started
            scrapes = []
            for _ in range(50):
                t0 = time.perf_counter()
                with urllib.request.urlopen(f"{base}/metrics", timeout=10) as response:
                    text = response.read().decode()
                scrapes.append(time.perf_counter() - t0)
    counted = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                  if line.startswith("portal_ingest_requests_total{"))
    return {
        "uploads": uploads, "ok": statuses.count(200), "counted_in_metrics": counted,
        "upload_seconds": upload_seconds, "uploads_per_s": uploads / upload_seconds,
        "scrape_p50_ms": statistics.median(scrapes) * 1000, "scrape_max_ms": max(scrapes) * 1000,
        "exposition_bytes": len(text.encode()),
    }


def render(result: dict[str, Any]) -> str:
    """Markdown summary."""
    r = result["routing"]
    lines = ["| variant | p50 ms | mean ms |", "|---|---|---|",
             f"| pinned /upload_refactored | {r['pinned']['p50_ms']:.2f} | {r['pinned']['mean_ms']:.2f} |",
             f"| routed /upload (100% refactored) | {r['routed']['p50_ms']:.2f} | {r['routed']['mean_ms']:.2f} |",
             "", f"- routed / pinned at the median: **{r['routed_vs_pinned_p50']:.3f}** (target <= 1.03)"]
    if "scrape" in result:
        s = result["scrape"]
        lines.append(f"- /metrics after {s['uploads']:,} uploads across 2 gunicorn workers ({s['counted_in_metrics']:.0f} counted): "
                     f"scrape p50 **{s['scrape_p50_ms']:.1f} ms**, max {s['scrape_max_ms']:.1f} ms, {s['exposition_bytes']:,} bytes")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run both measurements, print and write them."""
    parser = argparse.ArgumentParser(prog="python -m loadtests.bench_routing")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--uploads", type=int, default=10_000, help="0 skips the scrape measurement")
    parser.add_argument("--out", default=str(ROOT / "results" / "bench_routing.json"))
    args = parser.parse_args([] if argv is None else argv)
    result: dict[str, Any] = {"routing": bench_routed_vs_pinned(args.rounds)}
    if args.uploads:
        result["scrape"] = bench_scrape(args.uploads)
    publish(args.out, result, render(result))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
