"""`make bench`: every benchmark of the harness, side by side, figures printed and written.

    python -m loadtests.bench [--quick] [--only http,ingest,...] [--list]

- ingest: bare-parse floor vs original vs refactored, in-process through WSGI (issue 2);
- http: original vs refactored through real gunicorn, A/B in rotating blocks, with the
  refactored/original ratios against the 10% degradation bound (issue 6);
- routing: routed vs pinned in-process, and the /metrics scrape cost (issue 4);
- shadow: the cost a shadow run adds to an upload, half-capacity latency and saturation (issue 5);
- store: routed p50 with the Redis flag store healthy, frozen (SIGSTOP) and dead, through
  gunicorn, on a Redis server of its own (issue 15);
- pages: /incidences and /uploads with 1,000 and 100,000 records, SQLite (and PostgreSQL
  when named), the target a few tens of ms (issue 14);
- flags: warm-cache decision latency, the router through OpenFeature vs the direct call,
  and kill-switch propagation across processes (issues 3 and 15);
- stack: throughput through nginx with two instances vs one (the ratio), and kill-switch
  propagation across the instances (median, max) on the loopback stack (issue 16);
- report: `harness report` over 1,000,000 generated upload records on SQLite and
  PostgreSQL, with the query plans (issue 11);
- rollout: the controller's detection times and false-rollback rate (simulated), and the
  cost of one tick at 1,000,000 upload records (issue 12).

Each benchmark module has `main(argv) -> dict` and writes `results/bench_<name>.json`
(and `.md`); this entry point runs the chosen ones in turn, then writes all figures to
`results/bench.json` and the Markdown sections to `results/bench.md`. A benchmark whose
module is not in the checkout yet is skipped and said so; one that fails does not stop
the others, but makes the run exit non-zero.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"


@dataclass(frozen=True)
class Benchmark:
    """One benchmark module and the arguments of a full and of a quick run."""

    name: str
    module: str
    title: str
    full: tuple[str, ...] = ()
    quick: tuple[str, ...] = ()


BENCHMARKS = (
    Benchmark("ingest", "loadtests.bench_ingest", "ingestion: floor vs original vs refactored (in-process)",
              ("--rounds", "15"), ("--rounds", "3", "--reader-rounds", "1")),
    Benchmark("http", "loadtests.bench_http", "HTTP A/B: original vs refactored through gunicorn",
              (), ("--blocks", "2", "--per-schema", "1")),
    Benchmark("routing", "loadtests.bench_routing", "routing overhead and metrics scrape",
              (), ("--rounds", "3", "--uploads", "300")),
    Benchmark("shadow", "loadtests.bench_shadow", "shadow-run overhead through gunicorn", (), ("--seconds", "3")),
    Benchmark("store", "loadtests.bench_store", "routed latency with the flag store healthy, frozen and dead (gunicorn)",
              (), ("--rounds", "3", "--seconds", "3")),
    Benchmark("pages", "loadtests.bench_pages", "staff pages (/incidences, /uploads) at 1,000 and 100,000 records",
              (), ("--records", "20000", "--repeats", "5")),
    Benchmark("flags", "loadtests.bench_flags", "flags: decision latency, the router through OpenFeature, kill propagation",
              (), ("--trials", "2", "--samples", "20000", "--router-samples", "20000")),
    Benchmark("stack", "loadtests.bench_stack", "stack: nginx with two instances vs one, kill switch across instances",
              (), ("--blocks", "2", "--seconds", "3", "--trials", "1")),
    Benchmark("report", "loadtests.bench_report", "harness report over 1,000,000 upload records (SQLite, PostgreSQL)",
              (), ("--records", "100000")),
    Benchmark("rollout", "loadtests.bench_rollout",
              "rollout controller: detection times, false rollbacks, one tick at 1,000,000 records",
              (), ("--runs", "20", "--records", "100000", "--ticks", "5")),
)


def _available(benchmark: Benchmark) -> bool:
    return importlib.util.find_spec(benchmark.module) is not None


def main(argv: list[str] | None = None) -> dict:
    """Run the chosen benchmarks and return their figures (and `failed`, a list of names)."""
    names = [b.name for b in BENCHMARKS]
    parser = argparse.ArgumentParser(prog="python -m loadtests.bench")
    parser.add_argument("--quick", action="store_true", help="fewer rounds and samples (a smoke run, not for figures)")
    parser.add_argument("--only", help=f"comma-separated subset of: {', '.join(names)}")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args([] if argv is None else argv)
    if args.list:
        for b in BENCHMARKS:
            print(f"{b.name:<8} {b.title}{'' if _available(b) else '  (not in this checkout yet)'}")
        return {}
    chosen = names if not args.only else [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = sorted(set(chosen) - set(names))
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(names)}")
    figures: dict = {}
    failed: list[str] = []
    sections: list[str] = []
    for b in (b for b in BENCHMARKS if b.name in chosen):
        print(f"\n== {b.name}: {b.title} ==", flush=True)
        if not _available(b):
            print(f"skipped: {b.module} is not in this checkout yet")
            figures[b.name] = {"skipped": f"{b.module} not present"}
            continue
        started = time.time()
        try:
            figures[b.name] = importlib.import_module(b.module).main(list(b.quick if args.quick else b.full))
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - one benchmark failing must not lose the others' figures
            traceback.print_exc()
            figures[b.name] = {"failed": f"{type(exc).__name__}: {exc}"}
            failed.append(b.name)
            continue
        md = RESULTS / f"bench_{b.name}.md"
        sections.append(f"## {b.title}\n\n" + (md.read_text() if md.exists() and md.stat().st_mtime >= started else f"See `results/bench_{b.name}.json`.\n"))
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "bench.json"
    out.write_text(json.dumps(figures, indent=2, default=str))
    (RESULTS / "bench.md").write_text("# Benchmarks\n\n" + "\n".join(sections))
    print(f"\nall figures: {out} and {out.with_suffix('.md')}")
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
    figures["failed"] = failed
    return figures


if __name__ == "__main__":
    sys.exit(1 if main(sys.argv[1:]).get("failed") else 0)
