"""Rollout controller benchmark (issue 12): detection times, false rollbacks, and the cost of a tick.

    python -m loadtests.bench_rollout [--runs 200] [--records 1000000] [--ticks 20] [--postgres URL]

- detection: the simulated controller (app/harness/rollout/simulation.py: 5 uploads/s,
  ticks every 10 s, bake 10 min) against a +20-point server-error regression and +50%
  latency starting at the 25% and at the 50% step: median and p99 seconds from the
  regression's start to the rollback, and the share caught within 60 s / 120 s;
- false rollbacks: A/A rollouts rolled back, out of `--runs`;
- tick cost: one controller tick (lease, flag read, the window's aggregate query, the
  gates, the state write) on SQLite with `--records` upload records (two days of history,
  the plan's step holding the last two hours), with the (route, created_at) index of
  migration 0004, with only 0003's (created_at, route, ingest_path) index, and with neither;
  then on PostgreSQL with the shipped indexes (from --postgres, else HARNESS_BENCH_POSTGRES_URL
  or HARNESS_TEST_POSTGRES_URL; a schema of its own, dropped after).
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, insert, text

from loadtests.results import publish

RESULTS = Path(__file__).resolve().parents[1] / "results" / "bench_rollout.json"


def detection(runs: int) -> dict:
    """Simulated detection times and the A/A false-rollback rate."""
    from app.harness.rollout.simulation import Scenario, summarise

    logging.getLogger("app.harness.rollout.controller").setLevel(logging.ERROR)
    figures = {}
    aa = summarise(Scenario(), runs, seed=10_000)
    figures["aa"] = {"runs": runs, "completed": aa.completed, "rolled_back": aa.rolled_back,
                     "false_rollback_rate": aa.rolled_back / runs}
    for name, scenario, within in (("errors_20pt", {"regression_errors": 0.20}, 60),
                                   ("latency_50pct", {"regression_latency": 1.5}, 120)):
        for step, label in ((0, "25%"), (1, "50%")):
            s = summarise(Scenario(onset_step=step, **scenario), runs, within_s=within, seed=20_000 + step)
            figures[f"{name}@{label}"] = {"runs": runs, "rolled_back": s.rolled_back, "within_s": within,
                                          "caught_within": s.detected_within, "median_s": s.median_s, "p99_s": s.p99_s}
    return figures


def _fill(engine, records: int, now: dt.datetime, step_started: dt.datetime) -> None:
    rng = np.random.default_rng(0)
    span = 2 * 86400.0
    times = np.sort(rng.random(records)) * span
    chunk = 50_000
    for lo in range(0, records, chunk):
        rows = []
        for t in times[lo:lo + chunk]:
            at = now - dt.timedelta(seconds=span - float(t))
            share = 0.25 if at >= step_started else 0.0
            user = int(rng.integers(0, 50_000))
            ref = (user % 100) < share * 100  # sticky per user, as the router is
            failed = rng.random() < 0.01
            rows.append({"original_filename": "f.xlsx", "status": "failed" if failed else "processed",
                         "error_type": "processing_error" if failed else None,
                         "route": "direct" if rng.random() < 0.7 else "staged",
                         "ingest_path": "refactored" if ref else "original", "created_at": at, "updated_at": at,
                         "duration_seconds": float(0.05 * np.exp(0.3 * rng.standard_normal())),
                         "user": f"u{user}",
                         "decision_reason": "percentage" if ref else "off"})
        with engine.begin() as conn:
            conn.execute(insert(_table()), rows)


def _table():
    from app.ingest.models import UploadedFile

    return UploadedFile.__table__


def tick_cost(records: int, ticks: int, postgres: str | None = None) -> dict:
    """Median and max milliseconds of one controller tick over `records` upload records (SQLite, or
    PostgreSQL with the shipped indexes only when `postgres` is given)."""
    from app.harness.rollout import operations
    from app.harness.rollout.controller import Controller
    from app.harness.rollout.plan import Plan
    from app.harness.rollout.source import DatabaseSource
    from app.harness.rollout.store import SqlStore
    from app.ingest.database import upgrade_schema
    from flags import open_service

    folder = Path(tempfile.mkdtemp(prefix="bench_rollout_"))
    schema = f"bench_rollout_{os.getpid()}"
    if postgres:
        with create_engine(postgres).begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        engine = create_engine(postgres, connect_args={"options": f"-csearch_path={schema}"})
    else:
        engine = create_engine(f"sqlite:///{folder / 'portal.db'}")
    upgrade_schema(engine)
    now = dt.datetime.now(dt.UTC)
    step_started = now - dt.timedelta(hours=2)
    started = time.perf_counter()
    _fill(engine, records, now, step_started)
    fill_s = time.perf_counter() - started
    flags = open_service("memory://")
    store = SqlStore(engine)
    clock = [step_started]
    controller = Controller(store, flags, DatabaseSource(engine), lambda: clock[0], holder="bench")
    operations.start(store, flags, Plan("refactored_upload", bake_s=4 * 3600.0, min_uploads=200), clock[0], "bench")
    controller.tick()  # applies the step (and fixes the latency baseline from the hour before)
    figures = {"records": records, "fill_s": round(fill_s, 1), "window_h": 2,
               "database": engine.url.get_backend_name()}
    variants = (("with the 0004 (route, created_at) index", ()),
                ("0003's (created_at, route, ingest_path) index only", ("ix_uploaded_files_route_created_at",)),
                ("no window index", ("ix_uploaded_files_window",)))
    for variant, drop in variants[:1] if postgres else variants:
        with engine.begin() as conn:
            for index in drop:
                conn.execute(text(f"DROP INDEX IF EXISTS {index}"))
            conn.execute(text("ANALYZE"))
        clock[0] = now
        times = []
        for i in range(ticks):
            clock[0] = now + dt.timedelta(seconds=10 * i)
            t0 = time.perf_counter()
            controller.tick()
            times.append((time.perf_counter() - t0) * 1000)
        figures[variant] = {"median_ms": round(statistics.median(times), 1), "max_ms": round(max(times), 1),
                            "ticks": ticks, "plan": _query_plan(engine, now)}
    state = store.latest("refactored_upload")
    figures["last_evaluation"] = state.last_evaluation["reason"] if state.last_evaluation else None
    figures["status"] = state.status  # "running": every tick above evaluated the gates
    figures["window_uploads"] = state.last_evaluation["evidence"]["window"]["original"]["uploads"] + \
        state.last_evaluation["evidence"]["window"]["refactored"]["uploads"] if state.last_evaluation else None
    flags.close()
    engine.dispose()
    if postgres:
        with create_engine(postgres).begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()
    return figures


def _query_plan(engine, now: dt.datetime) -> str:
    """How SQLite answers the window query (which index, if any)."""
    from app.harness.rollout.source import DatabaseSource

    source = DatabaseSource(engine)
    captured = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT UPLOADED_FILES.INGEST_PATH, COUNT(*)") and not captured:
            captured.append((statement, parameters))

    from sqlalchemy import event

    event.listen(engine, "before_cursor_execute", capture)
    source.window("direct", now - dt.timedelta(hours=2), now, threshold_s=0.1, latency_start=now - dt.timedelta(hours=2))
    event.remove(engine, "before_cursor_execute", capture)
    if not captured:
        return "?"
    sqlite = engine.url.get_backend_name() == "sqlite"
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ") + captured[0][0],
                                    captured[0][1]).all()
    return "; ".join(str(row[-1]).strip() for row in rows)


def markdown(figures: dict) -> str:
    """The figures as the README shows them."""
    d = figures["detection"]
    lines = ["| scenario | caught within bound | median s | p99 s |", "| --- | --- | --- | --- |"]
    for key, value in d.items():
        if key == "aa":
            continue
        lines.append(f"| {key} (bound {value['within_s']} s) | {value['caught_within']}/{value['runs']} | "
                     f"{value['median_s']:.0f} | {value['p99_s']:.0f} |")
    aa = d["aa"]
    lines.append(f"\nA/A: {aa['rolled_back']}/{aa['runs']} rolled back (false-rollback rate {aa['false_rollback_rate']:.1%}).")
    lines.append("\nOne controller tick (target under 200 ms):\n")
    lines.append("| database | records | window uploads on the route | indexes | median ms | max ms |")
    lines.append("| --- | --- | --- | --- | --- | --- |")
    for t in (figures["tick"], figures.get("tick_postgresql")):
        if t is None:
            continue
        for key, value in t.items():
            if isinstance(value, dict):
                lines.append(f"| {t['database']} | {t['records']:,} | {t['window_uploads']:,} ({t['window_h']} h) | "
                             f"{key} | {value['median_ms']} | {value['max_ms']} |")
    if figures.get("tick_postgresql") is None:
        lines.append("\nPostgreSQL skipped: set HARNESS_BENCH_POSTGRES_URL or pass --postgres.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    """Run both parts; publish the figures."""
    parser = argparse.ArgumentParser(prog="python -m loadtests.bench_rollout")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--ticks", type=int, default=20)
    parser.add_argument("--postgres", default=os.environ.get("HARNESS_BENCH_POSTGRES_URL")
                        or os.environ.get("HARNESS_TEST_POSTGRES_URL"),
                        help="PostgreSQL URL for the tick on PostgreSQL (a schema of its own, dropped after)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    figures = {"detection": detection(args.runs), "tick": tick_cost(args.records, args.ticks)}
    if args.postgres:
        figures["tick_postgresql"] = tick_cost(args.records, args.ticks, args.postgres)
    publish(RESULTS, figures, markdown(figures))
    return figures


if __name__ == "__main__":
    main()
