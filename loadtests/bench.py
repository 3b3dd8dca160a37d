"""`make bench`: every benchmark of the harness, side by side, figures printed and written.

    python -m loadtests.bench [--quick]

- ingestion: bare-parse floor vs original vs refactored through the app (issue 2);
- flags: warm-cache decision latency and kill-switch propagation across processes (issue 3).

Results go to `results/` as JSON and Markdown.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from loadtests import bench_flags, bench_ingest

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> dict:
    """Run all benchmarks and return their figures."""
    parser = argparse.ArgumentParser(prog="python -m loadtests.bench")
    parser.add_argument("--quick", action="store_true", help="fewer rounds and samples (a smoke run, not for figures)")
    args = parser.parse_args(argv)
    print("== ingestion: floor vs original vs refactored ==")
    ingest = bench_ingest.main(["--rounds", "3" if args.quick else "15"])
    print("\n== flags: decision latency and kill propagation ==")
    flags = bench_flags.main(["--trials", "2", "--samples", "20000"] if args.quick else [])
    figures = {"ingest": ingest, "flags": flags}
    out = ROOT / "results" / "bench.json"
    out.write_text(json.dumps(figures, indent=2, default=str))
    print(f"\nall figures: {out}")
    return figures


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
