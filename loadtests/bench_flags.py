"""Flag benchmark: warm-cache decision latency, and kill-switch propagation across processes.

    python -m loadtests.bench_flags [--processes 3] [--trials 5] [--out results/bench_flags.json]

1. Decision: `FlagService.decide` with a warm cache (memory and SQLite stores; 25% rollout
   plus allow/deny lists), each call timed on its own; median and p99 in microseconds.
2. Propagation: N worker processes share one store (SQLite file, then Redis, then
   PostgreSQL when HARNESS_BENCH_POSTGRES_URL is set), each rereading it from a background
   thread as the portal's workers do, and decide `refactored_upload` for
   one user every millisecond, printing the CLOCK_MONOTONIC time (system-wide on Linux)
   of every change of path. The parent kills the flag and measures, per trial, the time
   from just before `kill()` to the last worker deciding "original"; then resumes and
   waits for all to return to "refactored" before the next trial (a random pause
   de-phases the workers' cache expiry from the kill).

3. Router: the router's decision through OpenFeature (`Router.choose`: the OpenFeature
   client, the `FlagsProvider`, the metric hook) against the direct call it replaced
   (`FlagService.decide` plus counting the decision), on the same warm service (memory
   store, background refresh as in the portal), alternating A and B call by call over
   10,000 users so drift lands on both. Target (issue 15): OpenFeature median < 50 us.

`main()` returns the figures as a dict and prints them; `make bench` calls it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import queue
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from flags import REFACTORED_UPLOAD, FlagService, MemoryFlagStore, StoreUnavailable, open_service, open_store

ROOT = Path(__file__).resolve().parents[1]
BENCH_USER = "bench-user"


# -- 1. decision latency ---------------------------------------------------------------


def bench_decision(service: FlagService, samples: int = 200_000) -> dict[str, float]:
    """Per-call latency of `decide` with a warm cache, in microseconds."""
    service.ensure_flags()
    service.set_percent(REFACTORED_UPLOAD, 25, actor="bench")
    service.allow(REFACTORED_UPLOAD, [f"vip-{n}" for n in range(50)], actor="bench")
    service.deny(REFACTORED_UPLOAD, [f"blocked-{n}" for n in range(50)], actor="bench")
    users = [f"user-{n}" for n in range(10_000)]
    for user in users:  # warm the cache and the interpreter
        service.decide(REFACTORED_UPLOAD, user)
    timings = []
    clock = time.perf_counter_ns
    decide = service.decide
    for n in range(samples):
        user = users[n % 10_000]
        start = clock()
        decide(REFACTORED_UPLOAD, user)
        timings.append(clock() - start)
    start = clock()
    for n in range(samples):
        decide(REFACTORED_UPLOAD, users[n % 10_000])
    throughput_us = (clock() - start) / samples / 1000
    timings.sort()
    return {
        "median_us": round(timings[len(timings) // 2] / 1000, 2),
        "p99_us": round(timings[int(len(timings) * 0.99)] / 1000, 2),
        "mean_loop_us": round(throughput_us, 2),
        "samples": samples,
    }


# -- 3. the router through OpenFeature vs the direct call --------------------------------


def bench_router(samples: int = 100_000) -> dict[str, Any]:
    """Per-call latency of the routing decision: through OpenFeature vs the direct call, interleaved."""
    from app.harness.metrics import Metrics
    from app.harness.router import Router
    from flags import Refresh

    service = FlagService(MemoryFlagStore(), refresh=Refresh.BACKGROUND)
    service.ensure_flags()
    service.set_percent(REFACTORED_UPLOAD, 25, actor="bench")
    service.allow(REFACTORED_UPLOAD, [f"vip-{n}" for n in range(50)], actor="bench")
    metrics = Metrics()
    router = Router(service, metrics)
    decide, count = service.decide, metrics.count_decision

    def direct(user: str) -> str:
        decision = decide(REFACTORED_UPLOAD, user)
        count(REFACTORED_UPLOAD, decision.path, decision.reason)
        return decision.path

    def openfeature(user: str) -> str:
        return router.choose("direct", user).path

    users = [f"user-{n}" for n in range(10_000)]
    assert all(direct(user) == openfeature(user) for user in users)  # the same answers (and a warm-up)
    clock = time.perf_counter_ns
    timings: dict[str, list[int]] = {"direct": [], "openfeature": []}
    arms = [("direct", direct), ("openfeature", openfeature)]
    for n in range(samples):
        user = users[n % len(users)]
        for name, call in arms if n % 2 else arms[::-1]:
            start = clock()
            call(user)
            timings[name].append(clock() - start)
    router.close()
    service.close()
    result: dict[str, Any] = {"samples": samples}
    for name, values in timings.items():
        values.sort()
        result[name] = {"median_us": round(values[len(values) // 2] / 1000, 2),
                        "p99_us": round(values[int(len(values) * 0.99)] / 1000, 2)}
    result["openfeature_over_direct_median"] = round(result["openfeature"]["median_us"] / result["direct"]["median_us"], 2)
    result["within_target"] = result["openfeature"]["median_us"] < 50
    return result


# -- 2. propagation --------------------------------------------------------------------


def worker(url: str, interval: float) -> None:
    """Decide for one user in a loop; print `<monotonic> <path>` on every change of path."""
    from flags import Refresh

    service = open_service(url, refresh=Refresh.BACKGROUND)  # as the portal's workers do
    last = None
    try:
        while True:
            path = service.decide(REFACTORED_UPLOAD, BENCH_USER).path
            if path != last:
                print(f"{time.monotonic():.6f} {path}", flush=True)
                last = path
            time.sleep(interval)
    except (KeyboardInterrupt, BrokenPipeError):
        pass
    finally:
        service.close()


class Workers:
    """N worker processes and a queue of (index, monotonic, path) reports from them."""

    def __init__(self, url: str, count: int, interval: float) -> None:
        self.reports: queue.Queue[tuple[int, float, str]] = queue.Queue()
        self.processes = [
            subprocess.Popen(
                [sys.executable, "-m", "loadtests.bench_flags", "--worker", url, "--interval", str(interval)],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(count)
        ]
        for index, process in enumerate(self.processes):
            threading.Thread(target=self._read, args=(index, process), daemon=True).start()

    def _read(self, index: int, process: subprocess.Popen) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            at, path = line.split()
            self.reports.put((index, float(at), path))

    def wait_all(self, path: str, timeout: float = 30.0) -> dict[int, float]:
        """Block until every worker has reported `path`; their report times."""
        seen: dict[int, float] = {}
        deadline = time.monotonic() + timeout
        while len(seen) < len(self.processes):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"workers {sorted(set(range(len(self.processes))) - set(seen))} never decided {path}")
            index, at, reported = self.reports.get(timeout=remaining)
            if reported == path:
                seen[index] = at
            else:
                seen.pop(index, None)
        return seen

    def stop(self) -> None:
        """Terminate the workers (the ones this benchmark started)."""
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def bench_propagation(url: str, processes: int = 3, trials: int = 5, interval: float = 0.001) -> dict[str, Any]:
    """Seconds from `kill()` until every worker process decides original, per trial."""
    operator = open_service(url)
    operator.ensure_flags()
    operator.resume(REFACTORED_UPLOAD, actor="bench")
    operator.set_percent(REFACTORED_UPLOAD, 100, actor="bench")
    workers = Workers(url, processes, interval)
    results, write_times = [], []
    try:
        workers.wait_all("refactored")
        for _ in range(trials):
            time.sleep(random.uniform(0.2, 1.2))
            start = time.monotonic()
            operator.kill(REFACTORED_UPLOAD, actor="bench", reason="propagation benchmark")
            write_times.append(time.monotonic() - start)
            seen = workers.wait_all("original")
            results.append(max(seen.values()) - start)
            operator.resume(REFACTORED_UPLOAD, actor="bench")
            workers.wait_all("refactored")
    finally:
        workers.stop()
        operator.close()
    return {
        "processes": processes,
        "trials": trials,
        "bound_s": operator.ttl,
        "median_s": round(statistics.median(results), 3),
        "max_s": round(max(results), 3),
        "all_s": [round(r, 3) for r in results],
        "kill_write_ms": round(statistics.median(write_times) * 1000, 2),
        "within_bound": all(r <= operator.ttl + 0.25 for r in results),
    }


def _redis_url() -> str:
    return os.environ.get("HARNESS_BENCH_REDIS_URL") or os.environ.get("HARNESS_TEST_REDIS_URL") or "redis://127.0.0.1:6379/0"


def _propagation_on_redis(processes: int, trials: int) -> dict[str, Any]:
    prefix = f"bench:flags:{uuid.uuid4().hex[:8]}"
    base = _redis_url()
    url = f"{base}{'&' if '?' in base else '?'}prefix={prefix}"
    store = open_store(url)
    try:
        store.read([REFACTORED_UPLOAD])
    except StoreUnavailable as error:
        return {"skipped": f"Redis unreachable at {base}: {error}"}
    try:
        return {"url": base, **bench_propagation(url, processes, trials)}
    finally:
        client = store._redis  # our own prefix only; never FLUSHDB a shared Redis
        for key in client.scan_iter(match=f"{prefix}:*"):
            client.delete(key)
        store.close()


def _propagation_on_postgres(processes: int, trials: int) -> dict[str, Any]:
    base = os.environ.get("HARNESS_BENCH_POSTGRES_URL")
    if not base:
        return {"skipped": "set HARNESS_BENCH_POSTGRES_URL to include PostgreSQL"}
    from sqlalchemy import create_engine, text

    schema = f"bench_flags_{uuid.uuid4().hex[:8]}"
    engine = create_engine(base)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
        return {"url": base.split("@")[-1], **bench_propagation(url, processes, trials)}
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run both benchmarks, print the figures and return them (argv: command-line options, default none)."""
    parser = argparse.ArgumentParser(prog="python -m loadtests.bench_flags")
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--samples", type=int, default=200_000)
    parser.add_argument("--router-samples", type=int, default=100_000)
    parser.add_argument("--out", default=str(ROOT / "results" / "bench_flags.json"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--interval", type=float, default=0.001, help=argparse.SUPPRESS)
    args = parser.parse_args([] if argv is None else argv)
    if args.worker:
        worker(args.worker, args.interval)
        return {}

    figures: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "decision": {},
        "propagation": {},
    }
    figures["decision"]["memory"] = bench_decision(FlagService(MemoryFlagStore()), args.samples)
    figures["router"] = bench_router(args.router_samples)
    with tempfile.TemporaryDirectory() as tmp:
        sqlite_service = open_service(f"sqlite:///{tmp}/decide.db")
        figures["decision"]["sqlite"] = bench_decision(sqlite_service, args.samples)
        sqlite_service.close()
        figures["propagation"]["sqlite"] = bench_propagation(f"sqlite:///{tmp}/flags.db", args.processes, args.trials)
    figures["propagation"]["redis"] = _propagation_on_redis(args.processes, args.trials)
    figures["propagation"]["postgresql"] = _propagation_on_postgres(args.processes, args.trials)

    _print(figures)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(figures, indent=2))
    return figures


def _print(figures: dict[str, Any]) -> None:
    machine = figures["machine"]
    print(f"flag benchmark on {machine['cpus']} CPUs, Python {machine['python']}, {machine['platform']}")
    for store, result in figures["decision"].items():
        print(
            f"  decide() warm cache [{store}]: median {result['median_us']} us, p99 {result['p99_us']} us, "
            f"loop mean {result['mean_loop_us']} us (target: median <= 20 us)"
        )
    router = figures["router"]
    print(
        f"  router decision, {router['samples']:,} calls each, interleaved: through OpenFeature median "
        f"{router['openfeature']['median_us']} us (p99 {router['openfeature']['p99_us']} us), direct call median "
        f"{router['direct']['median_us']} us (p99 {router['direct']['p99_us']} us): x{router['openfeature_over_direct_median']} "
        f"(target: OpenFeature median < 50 us)"
    )
    for store, result in figures["propagation"].items():
        if "skipped" in result:
            print(f"  kill propagation [{store}]: skipped ({result['skipped']})")
            continue
        print(
            f"  kill propagation [{store}] across {result['processes']} processes: median {result['median_s']} s, "
            f"max {result['max_s']} s over {result['trials']} trials (bound {result['bound_s']} s; "
            f"kill write {result['kill_write_ms']} ms)"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
