"""Flag-store health benchmark: routed upload latency with the Redis flag store healthy,
frozen and dead, side by side, through real gunicorn.

    python -m loadtests.bench_store [--rounds 12] [--seconds 2.5] [--clients 2] [--workers 2]
                                    [--out results/bench_store.json]

The portal runs as in production (`harness serve`, gunicorn, SQLite data) with its flag
store on a Redis server this benchmark starts itself on a free port (the machine's shared
Redis is never stopped), `refactored_upload` at 50%. Each round runs three phases of
`--seconds` each, in a rotating order, `--clients` closed-loop threads posting pooled
workbooks to the routed `/upload` as 200 different users:

- healthy: Redis answering;
- frozen: Redis stopped with SIGSTOP (connections hang until the client's 0.5 s socket
  timeout), then SIGCONT;
- dead: Redis killed (connections refused), then restarted and the flags written back.

A phase is shorter than the flags' `max_stale` (30 s), so every worker keeps deciding
from its last known state and the users' paths, hence the work per request, stay the
same: any latency difference is what the store costs a request. Target (issue 15): the
frozen and dead medians within 10% of the healthy one. Medians are taken per path (the
original path is several times slower than the refactored one, so a pooled median moves
with the mix), compared within each round (the shared machine's load drifts between
rounds) and summarised as the median over rounds. Per phase: requests, throughput,
p50/p95, the paths served; and the fallbacks the workers counted (they did see the
store fail).
"""

from __future__ import annotations

import argparse
import shutil
import signal
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from loadtests.bench_http import Client
from loadtests.expectations import GOOD
from loadtests.results import publish
from loadtests.server import Server, free_port
from loadtests.summary import percentile
from loadtests.workbooks import build_pool

ROOT = Path(__file__).resolve().parents[1]
PHASES = ("healthy", "frozen", "dead")
PATHS = ("original", "refactored")
BOUND = 0.10


class PrivateRedis:
    """A redis-server of this benchmark's own (nothing on disk), on one port across restarts."""

    def __init__(self) -> None:
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            raise RuntimeError("redis-server is not installed (Debian package redis-server)")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        """Start the server and wait until it answers."""
        from redis import Redis
        from redis.exceptions import RedisError

        self.process = subprocess.Popen([self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                         "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = Redis.from_url(self.url, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except RedisError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("the benchmark's redis-server did not start") from None
                time.sleep(0.05)
        client.close()

    def signal(self, sig: int) -> None:
        """Send `sig` to this server (SIGSTOP / SIGCONT)."""
        assert self.process is not None
        self.process.send_signal(sig)

    def kill(self) -> None:
        """Kill this server (if running) and reap it."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait(10)


def _seed(store_url: str) -> None:
    from flags import REFACTORED_UPLOAD, open_service

    service = open_service(store_url)
    try:
        service.ensure_flags()
        service.set_percent(REFACTORED_UPLOAD, 50, actor="bench", reason="store benchmark")
    finally:
        service.close()


def _load(client: Client, samples, users: list[str], clients: int, seconds: float) -> tuple[float, list]:
    """Closed-loop uploads to /upload from `clients` threads for `seconds`; (wall, answers)."""
    answers: list[tuple[int, str | None, float]] = []
    lock = threading.Lock()
    counter = iter(range(10**9))
    deadline = time.monotonic() + seconds

    def work() -> None:
        while time.monotonic() < deadline:
            with lock:
                n = next(counter)
            answer = client.post("/upload", samples[n % len(samples)], users[n % len(users)])
            with lock:
                answers.append(answer)

    threads = [threading.Thread(target=work) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, answers


def _p50_by_path(answers: list) -> dict[str, float]:
    """Median milliseconds of the answers each path served (the two paths' latencies differ several-fold)."""
    out = {}
    for path in PATHS:
        ordered = sorted(seconds * 1000 for _, served, seconds in answers if served == path)
        if ordered:
            out[path] = percentile(ordered, 50)
    return out


def _fallbacks(base: str) -> dict[str, float]:
    with urllib.request.urlopen(f"{base}/metrics", timeout=30) as response:
        text = response.read().decode()
    counts: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith('portal_flag_fallbacks_total{flag="refactored_upload"'):
            source = line.split('source="', 1)[1].split('"', 1)[0]
            counts[source] = counts.get(source, 0) + float(line.rsplit(" ", 1)[1])
    return counts


def run(rounds: int, seconds: float, clients: int, workers: int) -> dict[str, Any]:
    """Every round: the three phases in rotating order; latencies pooled per phase."""
    redis = PrivateRedis()
    redis.start()
    store_url = f"{redis.url}?prefix=bench:store:{uuid.uuid4().hex[:8]}"
    samples = build_pool(per_schema=2, kinds=(GOOD,))[GOOD]
    users = [f"user-{n}" for n in range(200)]
    pooled: dict[str, list] = {phase: [] for phase in PHASES}
    per_round: list[dict[str, float]] = []
    walls: dict[str, float] = dict.fromkeys(PHASES, 0.0)
    try:
        _seed(store_url)
        with tempfile.TemporaryDirectory(prefix="bench-store-", dir=ROOT / "results") as tmp:
            with Server(Path(tmp) / "instance", workers=workers, log_path=Path(tmp) / "server.log",
                        env={"HARNESS_FLAG_STORE_URL": store_url}) as base:
                client = Client(base, timeout=60)
                _load(client, samples, users, clients, 3.0)  # warm-up: every worker has read the flags
                before = _fallbacks(base)
                for index in range(rounds):
                    order = PHASES[index % 3:] + PHASES[: index % 3]
                    medians: dict[str, float] = {}
                    for phase in order:
                        if phase == "frozen":
                            redis.signal(signal.SIGSTOP)
                        elif phase == "dead":
                            redis.kill()
                        try:
                            wall, answers = _load(client, samples, users, clients, seconds)
                        finally:
                            if phase == "frozen":
                                redis.signal(signal.SIGCONT)
                            elif phase == "dead":
                                redis.start()
                                _seed(store_url)
                        pooled[phase].extend(answers)
                        walls[phase] += wall
                        medians[phase] = _p50_by_path(answers)
                        time.sleep(0.5)
                    per_round.append(medians)
                after = _fallbacks(base)
    finally:
        redis.kill()
    result: dict[str, Any] = {"rounds": rounds, "seconds_per_phase": seconds, "clients": clients, "workers": workers,
                              "fallbacks_counted": {k: after.get(k, 0) - before.get(k, 0) for k in after}}
    for phase in PHASES:
        answers = pooled[phase]
        ordered = sorted(s * 1000 for _, _, s in answers)
        served: dict[str, int] = {}
        for _, path, _ in answers:
            served[str(path)] = served.get(str(path), 0) + 1
        result[phase] = {"requests": len(answers), "errors": sum(status != 200 for status, _, _ in answers),
                         "throughput_per_s": len(answers) / walls[phase], "p50_ms": percentile(ordered, 50),
                         "p95_ms": percentile(ordered, 95), "served_by": served,
                         "p50_ms_by_path": _p50_by_path(answers)}
    for phase in ("frozen", "dead"):
        for path in PATHS:
            # Paired within a round (the shared machine's load drifts between rounds more than within one).
            ratios = [round(m[phase][path] / m["healthy"][path], 3) for m in per_round if m[phase].get(path) and m["healthy"].get(path)]
            result[f"{phase}_over_healthy_p50_{path}_per_round"] = ratios
            result[f"{phase}_over_healthy_p50_{path}"] = statistics.median(ratios) if ratios else None
        result[f"{phase}_over_healthy_throughput"] = result[phase]["throughput_per_s"] / result["healthy"]["throughput_per_s"]
    result["within_bound"] = all((result[f"{p}_over_healthy_p50_{path}"] or 99) <= 1 + BOUND
                                 for p in ("frozen", "dead") for path in PATHS)
    return result


def render(r: dict[str, Any]) -> str:
    """Markdown summary."""
    lines = [f"Routed `POST /upload` through gunicorn ({r['workers']} workers, {r['clients']} closed-loop clients), Redis flag "
             f"store of its own, `refactored_upload` at 50%; {r['rounds']} rounds x {r['seconds_per_phase']:g} s per phase, "
             "rotating order.", "",
             "| flag store | requests | errors | throughput /s | p50 ms original | p50 ms refactored | p95 ms (all) | served original / refactored |",
             "|---|---|---|---|---|---|---|---|"]
    for phase in PHASES:
        p = r[phase]
        by_path = p["p50_ms_by_path"]
        lines.append(f"| {phase} | {p['requests']} | {p['errors']} | {p['throughput_per_s']:.1f} | "
                     f"{by_path.get('original', float('nan')):.1f} | {by_path.get('refactored', float('nan')):.1f} | "
                     f"{p['p95_ms']:.1f} | {p['served_by'].get('original', 0)} / {p['served_by'].get('refactored', 0)} |")
    lines.append("")
    for phase in ("frozen", "dead"):
        parts = [f"{path} **{r[f'{phase}_over_healthy_p50_{path}']:.3f}**" for path in PATHS
                 if r[f"{phase}_over_healthy_p50_{path}"] is not None]
        lines.append(f"- {phase} / healthy, p50 per path paired within each round, median over rounds: {', '.join(parts)}; "
                     f"throughput {r[f'{phase}_over_healthy_throughput']:.3f} (bound: p50 within {BOUND:.0%})")
    lines.append(f"- fallbacks the workers counted meanwhile (`portal_flag_fallbacks_total`, refactored_upload): {r['fallbacks_counted']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark, print and write its figures."""
    parser = argparse.ArgumentParser(prog="python -m loadtests.bench_store")
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=2.5, help="per phase; keep it under max_stale (30 s)")
    parser.add_argument("--clients", type=int, default=2, help="closed-loop clients (one per worker: no queueing)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "results" / "bench_store.json"))
    args = parser.parse_args([] if argv is None else argv)
    if not 0 < args.seconds < 30:
        parser.error("--seconds must be under 30 (the flags' max_stale), or the safe default changes the paths")
    (ROOT / "results").mkdir(exist_ok=True)
    result = run(args.rounds, args.seconds, args.clients, args.workers)
    publish(args.out, result, render(result))
    return result


if __name__ == "__main__":
    main(__import__("sys").argv[1:])
