"""Stack benchmark: throughput through nginx with two instances against one, and kill-switch
propagation across the instances.

    python -m loadtests.bench_stack [--blocks 6] [--seconds 8] [--clients 8] [--trials 5]

Starts the loopback stack (loadtests/stack: nginx, two portal instances of two gunicorn
workers, PostgreSQL schema and Redis prefix of its own, Prometheus) and a second nginx
rendered from the same site with only instance 1 behind it. Then:

1. Throughput: `--clients` closed-loop clients upload good workbooks through one balancer
   for `--seconds`, alternating the pinned original and refactored endpoints, in blocks
   rotating between "two instances" and "one instance" (same processes, same database, so
   drift lands on both); uploads/s per block, the median per arm, and the ratio. Per
   worker: the one-instance figure / its workers (the sizing figure of docs/deployment.md).
2. Propagation: `--trials` kills of `refactored_upload` with every worker of both instances
   probed (loadtests/stack/propagation.py); per trial the slowest worker; median and max
   over every worker of every trial.

Needs nginx, prometheus, and the PostgreSQL and Redis servers (HARNESS_TEST_POSTGRES_URL /
HARNESS_TEST_REDIS_URL, or the machine's 127.0.0.1 defaults). On a machine with fewer cores
than workers, the ratio measures the machine, not the portal: the cores are printed.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from flags import open_service
from loadtests.results import publish
from loadtests.server import free_port
from loadtests.stack.client import post
from loadtests.stack.propagation import measure_kill
from loadtests.stack.runner import DEFAULT_POSTGRES, DEFAULT_REDIS, Ports, Stack, StackConfig, stop
from loadtests.workbooks import build_pool

ROOT = Path(__file__).resolve().parents[1]


def _client(url: str, samples, stop_at: float, counts: list[int], failures: list[int]) -> None:
    targets = itertools.cycle(["/upload_original", "/upload_refactored"])
    for sample, target in zip(itertools.cycle(samples), targets):
        if time.monotonic() >= stop_at:
            return
        answer = post(url, target, sample.body, sample.content_type, user=f"bench-{uuid.uuid4().hex[:6]}", timeout=30)
        (counts if answer.status == 200 else failures).append(1)


def throughput(url: str, samples, seconds: float, clients: int) -> dict[str, float]:
    """Uploads per second answered 200 through `url` by `clients` closed-loop clients."""
    counts: list[int] = []
    failures: list[int] = []
    stop_at = time.monotonic() + seconds
    started = time.monotonic()
    threads = [threading.Thread(target=_client, args=(url, samples[n:] + samples[:n], stop_at, counts, failures))
               for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    return {"uploads_per_s": round(len(counts) / elapsed, 2), "uploads": len(counts), "failures": len(failures)}


def run(blocks: int, seconds: float, clients: int, trials: int, postgres: str, redis: str) -> dict[str, Any]:
    """Start the stack, measure, stop it; the figures."""
    folder = Path(tempfile.mkdtemp(prefix="bench-stack-"))
    stack = Stack(StackConfig(folder=folder, ports=Ports.free(), name=f"bench_stack_{os.getpid()}",
                              postgres_url=postgres, redis_url=redis))
    samples = build_pool(per_schema=2, seed=7, kinds=("good",))["good"]
    try:
        state = stack.up()
        one = stack.add_balancer(state, "nginx-one-instance", free_port(), [1])
        arms = {"two_instances": state.nginx_url, "one_instance": one}
        throughput(state.nginx_url, samples, 2.0, clients)  # warm both instances
        measured: dict[str, list[dict]] = {arm: [] for arm in arms}
        order = list(arms)
        for block in range(blocks):
            arm = order[block % 2]
            figure = throughput(arms[arm], samples, seconds, clients)
            measured[arm].append(figure)
            print(f"  block {block + 1}/{blocks}: {arm}: {figure['uploads_per_s']} uploads/s "
                  f"({figure['failures']} failures)", flush=True)
        flags = open_service(state.flag_store_url)
        kills = []
        try:
            for trial in range(trials):
                result = measure_kill(state, flags)
                kills.append(result)
                print(f"  kill {trial + 1}/{trials}: median {result.median_s:.3f} s, max {result.max_s:.3f} s "
                      f"over {len(result.per_worker)} workers", flush=True)
        finally:
            flags.close()
        workers = state.workers
    finally:
        stop(folder)
        shutil.rmtree(folder, ignore_errors=True)
    medians = {arm: statistics.median(f["uploads_per_s"] for f in figures) for arm, figures in measured.items()}
    every_worker = [s for k in kills for s in k.per_worker.values()]
    return {
        "clients": clients, "seconds_per_block": seconds, "blocks": blocks, "workers_per_instance": workers,
        "throughput": {arm: {"median_uploads_per_s": medians[arm], "blocks": measured[arm]} for arm in arms},
        "ratio_two_over_one": round(medians["two_instances"] / medians["one_instance"], 3) if medians["one_instance"] else None,
        "uploads_per_s_per_worker": round(medians["one_instance"] / workers, 2),
        "kill_propagation": {
            "trials": trials, "workers": len(every_worker) // max(trials, 1),
            "median_s": round(statistics.median(every_worker), 3), "max_s": round(max(every_worker), 3),
            "per_trial_max_s": [round(k.max_s, 3) for k in kills], "bound_s": 1.0,
        },
    }


def render(result: dict[str, Any]) -> str:
    """The figures as Markdown."""
    t, k = result["throughput"], result["kill_propagation"]
    cores = os.cpu_count()
    return "\n".join([
        f"Through nginx, {result['clients']} closed-loop clients, pinned original/refactored uploads alternating, "
        f"{result['blocks']} blocks of {result['seconds_per_block']} s rotating between the arms; "
        f"{result['workers_per_instance']} gunicorn workers per instance; {cores} cores.",
        "",
        "| figure | value |",
        "| --- | --- |",
        f"| two instances: uploads/s (median of blocks) | {t['two_instances']['median_uploads_per_s']} |",
        f"| one instance: uploads/s (median of blocks) | {t['one_instance']['median_uploads_per_s']} |",
        f"| ratio two / one | {result['ratio_two_over_one']} |",
        f"| uploads/s per worker (one instance / its workers) | {result['uploads_per_s_per_worker']} |",
        f"| kill switch across both instances: median over workers and trials | {k['median_s']} s |",
        f"| kill switch: max (bound 1 s + one store read) | {k['max_s']} s |",
        f"| kill switch: slowest worker per trial | {', '.join(f'{v} s' for v in k['per_trial_max_s'])} |",
    ])


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark, print and write its figures."""
    parser = argparse.ArgumentParser(prog="python -m loadtests.bench_stack")
    parser.add_argument("--blocks", type=int, default=6, help="throughput blocks, alternating two/one instance")
    parser.add_argument("--seconds", type=float, default=8.0, help="per block")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--trials", type=int, default=5, help="kill-switch propagation trials")
    parser.add_argument("--postgres", default=os.environ.get("HARNESS_TEST_POSTGRES_URL") or DEFAULT_POSTGRES)
    parser.add_argument("--redis", default=os.environ.get("HARNESS_TEST_REDIS_URL") or DEFAULT_REDIS)
    parser.add_argument("--out", default=str(ROOT / "results" / "bench_stack.json"))
    args = parser.parse_args([] if argv is None else argv)
    if args.blocks < 2:
        parser.error("--blocks must be at least 2 (one per arm)")
    result = run(args.blocks, args.seconds, args.clients, args.trials, args.postgres, args.redis)
    publish(args.out, result, render(result))
    return result


if __name__ == "__main__":
    main(__import__("sys").argv[1:])
