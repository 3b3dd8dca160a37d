"""HTTP A/B benchmark: the original and the refactored path side by side through real gunicorn.

    python -m loadtests.bench_http [--blocks 12] [--concurrency 2] [--workers 2] [--host URL]
                                   [--out results/bench_http.json]

The portal runs as in production (`harness serve`, gunicorn with `--workers`, SQLite on
the embedded default, a fresh instance folder) unless `--host` names one. Arms, per
route: the pinned `original` and `refactored` endpoints (direct: `/upload_original`,
`/upload_refactored`; staged: `/upload_staged_original`, `/upload_staged_refactored`) and,
for the direct route, the routed `/upload` (what users hit; served by whichever path the
flags give, reported with the path that served it).

Each block sends every arm one burst: the same workbooks (good and bad-values, every
schema, pre-generated) from `--concurrency` closed-loop client threads, each request as
a different `X-Portal-User`. The order of the arms rotates from block to block, so drift
on a shared machine lands on every arm alike. Per arm: throughput (requests over the
bursts' wall time) and exact p50/p95/p99/mean latency; per route the refactored/original
ratios, checked against the roadmap's bound (no more than 10% degradation: throughput
ratio >= 0.9 and p95 ratio <= 1.1). Any answer other than 200/201 counts as an error.
"""

from __future__ import annotations

import argparse
import http.client
import shutil
import statistics
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from loadtests.csrf import CsrfSession
from loadtests.expectations import BAD_VALUES, DIRECT, GOOD, ORIGINAL, REFACTORED, STAGED
from loadtests.results import publish
from loadtests.server import Server
from loadtests.summary import percentile
from loadtests.workbooks import Sample, build_pool

ROOT = Path(__file__).resolve().parents[1]
DEGRADATION_BOUND = 0.10
ARMS = (  # (arm, route, endpoint)
    ("direct original", DIRECT, "/upload_original"),
    ("direct refactored", DIRECT, "/upload_refactored"),
    ("direct routed", DIRECT, "/upload"),
    ("staged original", STAGED, "/upload_staged_original"),
    ("staged refactored", STAGED, "/upload_staged_refactored"),
)


class Client:
    """POSTs over plain http.client (a connection per request: gunicorn's sync workers close them)."""

    def __init__(self, base_url: str, timeout: float = 30.0):
        parts = urlsplit(base_url)
        self.base_url, self.host, self.port, self.timeout = base_url, parts.hostname, parts.port or 80, timeout
        self._csrf: CsrfSession | None = None

    def csrf(self) -> dict[str, str]:
        """The session cookie and CSRF token headers (one session, fetched before the first POST)."""
        if self._csrf is None:
            self._csrf = CsrfSession.fetch(self.base_url, self.timeout)
        return self._csrf.headers

    def post(self, endpoint: str, sample: Sample, user: str) -> tuple[int, str | None, float]:
        """(status, X-Ingest-Path, seconds); status 0 when there was no answer."""
        csrf = self.csrf()
        started = time.perf_counter()
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            connection.request("POST", endpoint, body=sample.body, headers={
                "Content-Type": sample.content_type, "Accept": "application/json", "X-Portal-User": user, **csrf})
            response = connection.getresponse()
            response.read()
            return response.status, response.getheader("X-Ingest-Path"), time.perf_counter() - started
        except OSError:
            return 0, None, time.perf_counter() - started
        finally:
            connection.close()


def burst(client: Client, endpoint: str, samples: list[Sample], users: list[str], concurrency: int) -> tuple[float, list[tuple[int, str | None, float]]]:
    """Send every sample once from `concurrency` closed-loop threads; (wall seconds, answers)."""
    answers: list[tuple[int, str | None, float]] = []
    lock = threading.Lock()
    jobs = iter(range(len(samples)))

    def work() -> None:
        while True:
            with lock:
                n = next(jobs, None)
            if n is None:
                return
            answer = client.post(endpoint, samples[n], users[n])
            with lock:
                answers.append(answer)

    threads = [threading.Thread(target=work) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, answers


def arm_figures(wall: float, answers: list[tuple[int, str | None, float]], ok_status: int) -> dict[str, Any]:
    """Throughput, exact latency percentiles, errors and the paths that served an arm."""
    ordered = sorted(seconds * 1000 for _, _, seconds in answers)
    served: dict[str, int] = {}
    for _, path, _ in answers:
        served[str(path)] = served.get(str(path), 0) + 1
    return {"requests": len(answers), "errors": sum(1 for status, _, _ in answers if status != ok_status),
            "throughput_per_s": len(answers) / wall if wall else 0.0, "mean_ms": statistics.fmean(ordered),
            "p50_ms": percentile(ordered, 50), "p95_ms": percentile(ordered, 95), "p99_ms": percentile(ordered, 99),
            "served_by": served}


def ratios(original: dict, refactored: dict) -> dict[str, Any]:
    """refactored / original: throughput (higher is better) and latencies (lower is better)."""
    out = {"throughput": refactored["throughput_per_s"] / original["throughput_per_s"]}
    for key in ("p50_ms", "p95_ms", "p99_ms", "mean_ms"):
        out[key.replace("_ms", "")] = refactored[key] / original[key]
    out["within_bound"] = out["throughput"] >= 1 - DEGRADATION_BOUND and out["p95"] <= 1 + DEGRADATION_BOUND
    return out


def run(base_url: str, blocks: int, concurrency: int, per_schema: int, max_seconds: float) -> dict[str, Any]:
    """Measure every arm over `blocks` rotating blocks (stops early past `max_seconds`)."""
    pool = build_pool(per_schema, seed=11, kinds=(GOOD, BAD_VALUES))
    samples = pool[GOOD] + pool[BAD_VALUES]
    client = Client(base_url)
    ok_status = {DIRECT: 200, STAGED: 201}
    for _, route, endpoint in ARMS:  # warm every worker and code path
        burst(client, endpoint, samples, [f"bench-warm-{n}" for n in range(len(samples))], concurrency)
    walls = {arm: 0.0 for arm, _, _ in ARMS}
    answers: dict[str, list] = {arm: [] for arm, _, _ in ARMS}
    order = list(ARMS)
    deadline = time.monotonic() + max_seconds
    done = 0
    for block in range(blocks):
        if time.monotonic() > deadline:
            break
        # Distinct users per block; the same users for every arm of the block.
        users = [f"bench-user-{block:03d}-{n:03d}" for n in range(len(samples))]
        for arm, _, endpoint in order:
            wall, got = burst(client, endpoint, samples, users, concurrency)
            walls[arm] += wall
            answers[arm] += got
        order = order[1:] + order[:1]
        done += 1
    arms = {arm: arm_figures(walls[arm], answers[arm], ok_status[route]) for arm, route, _ in ARMS}
    results: dict[str, Any] = {"arms": arms, "ratios": {
        route: ratios(arms[f"{route} original"], arms[f"{route} refactored"]) for route in (DIRECT, STAGED)}}
    routed = arms["direct routed"]
    served = max(routed["served_by"], key=routed["served_by"].get)
    if served in (ORIGINAL, REFACTORED):
        pinned = arms[f"direct {served}"]
        results["routing_overhead"] = {"served_by": served, "p50_ratio": routed["p50_ms"] / pinned["p50_ms"],
                                       "mean_ms_added": routed["mean_ms"] - pinned["mean_ms"]}
    results["setup"] = {"blocks": done, "workbooks": len(samples), "concurrency": concurrency,
                        "requests_per_arm": done * len(samples)}
    return results


def render(results: dict[str, Any]) -> str:
    """The figures as Markdown."""
    setup = results["setup"]
    lines = [f"{setup['workbooks']} workbooks (good and bad-values, every schema) x {setup['blocks']} rotating blocks "
             f"per arm, {setup['concurrency']} concurrent clients, gunicorn with {setup.get('workers', '?')} workers, "
             "SQLite; over HTTP on 127.0.0.1.", "",
             "| arm | requests | errors | req/s | p50 ms | p95 ms | p99 ms | mean ms | served by |",
             "|---|---|---|---|---|---|---|---|---|"]
    for arm, f in results["arms"].items():
        served = ", ".join(f"{k} {v}" for k, v in sorted(f["served_by"].items()))
        lines.append(f"| {arm} | {f['requests']} | {f['errors']} | {f['throughput_per_s']:.1f} | {f['p50_ms']:.1f} | "
                     f"{f['p95_ms']:.1f} | {f['p99_ms']:.1f} | {f['mean_ms']:.1f} | {served} |")
    lines += ["", "| route | refactored/original throughput | p50 | p95 | p99 | within 10% |", "|---|---|---|---|---|---|"]
    for route, r in results["ratios"].items():
        lines.append(f"| {route} | {r['throughput']:.2f}x | {r['p50']:.2f} | {r['p95']:.2f} | {r['p99']:.2f} | "
                     f"{'yes' if r['within_bound'] else 'NO'} |")
    if "routing_overhead" in results:
        o = results["routing_overhead"]
        lines += ["", f"Routed `/upload` (served by {o['served_by']}) vs pinned: p50 ratio {o['p50_ratio']:.3f}, "
                      f"mean {o['mean_ms_added']:+.2f} ms (HTTP noise is larger than the router's cost; "
                      "see bench_routing for the in-process figure)."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark, print and write the figures, and return them."""
    parser = argparse.ArgumentParser(prog="python -m loadtests.bench_http")
    parser.add_argument("--blocks", type=int, default=12, help="rotating blocks; each sends every arm the corpus once")
    parser.add_argument("--concurrency", type=int, default=2, help="closed-loop client threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers of the portal this starts")
    parser.add_argument("--per-schema", type=int, default=2, help="workbooks per schema and variant")
    parser.add_argument("--max-seconds", type=float, default=300, help="stop starting new blocks after this")
    parser.add_argument("--host", help="benchmark this portal instead of starting one")
    parser.add_argument("--out", default=str(ROOT / "results" / "bench_http.json"))
    args = parser.parse_args([] if argv is None else argv)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.host:
        results = run(args.host.rstrip("/"), args.blocks, args.concurrency, args.per_schema, args.max_seconds)
    else:
        scratch = out.parent / "bench-http-portal"
        shutil.rmtree(scratch, ignore_errors=True)
        try:
            with Server(scratch / "instance", workers=args.workers, log_path=scratch / "server.log") as base_url:
                results = run(base_url, args.blocks, args.concurrency, args.per_schema, args.max_seconds)
        finally:
            shutil.rmtree(scratch / "instance", ignore_errors=True)
    results["setup"].update(workers=None if args.host else args.workers, host=args.host or "started (embedded default)")
    publish(out, results, render(results))
    return results


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
