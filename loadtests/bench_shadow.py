"""Shadow overhead through real gunicorn: half-capacity latency and saturation throughput.

    python -m loadtests.bench_shadow [--primary original] [--seconds 12] [--out results/bench_shadow.json]

1. Capacity: closed loop (`--clients` concurrent clients, each sending the next upload
   when the last is answered) on routed `/upload` with shadowing off: uploads per second.
2. Half capacity: an open loop at half that rate, alternating phases with shadowing off
   and at 100% (`shadow_upload`), four each (ABBA ABBA) so drift lands on both; primary
   p50 of each.
   Target (issue 5): p50 with shadow at most 1.10x p50 without.
3. Saturation: closed loop again, alternating shadowing off and at 100% the same way: throughput with against without, and the runs shed
   (`portal_shadow_runs_total{result="skipped"}`). Target: throughput drops at most 10%.

`--primary` picks which path serves users (`refactored_upload` at 0% or 100%); the shadow
runs the other one. Flags are changed through the flag store the server reads (its
cache lets a change through within 1 s; each phase waits 1.5 s first).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from loadtests.csrf import CsrfSession
from loadtests.multipart import encode_multipart
from loadtests.results import publish
from loadtests.server import Server

ROOT = Path(__file__).resolve().parents[1]
SHARED_SAMPLES = ROOT.parent / "shared" / "arb_forms" / "samples"
# Alternating phases (ABBA twice) so the machine's drift lands on both sides alike.
PHASES = ("off", "on", "on", "off", "off", "on", "on", "off")


def _bodies() -> list[tuple[bytes, str]]:
    samples = sorted(p for p in SHARED_SAMPLES.glob("*good_data*.xlsx")) if SHARED_SAMPLES.is_dir() else []
    if samples:
        return [encode_multipart(p.read_bytes(), p.name) for p in samples]
    from app.forms import all_schemas
    from app.workbook.generator import generate_workbook

    return [encode_multipart(generate_workbook(s.name, seed=n).data, f"{s.name}.xlsx") for n, s in enumerate(all_schemas())]


class Load:
    """Uploads to one portal from a thread pool; each call returns the latency in seconds."""

    def __init__(self, base: str, bodies: list[tuple[bytes, str]]) -> None:
        self.base, self.bodies = base, bodies
        self.csrf = CsrfSession.fetch(base)
        self._n = 0
        self._lock = threading.Lock()

    def upload(self) -> float:
        """One routed upload as a distinct user; raises on a non-2xx answer."""
        with self._lock:
            self._n += 1
            n = self._n
        body, content_type = self.bodies[n % len(self.bodies)]
        request = urllib.request.Request(f"{self.base}/upload", data=body, method="POST", headers={
            "Content-Type": content_type, "Accept": "application/json", "X-Portal-User": f"bench-{n % 1000}",
            **self.csrf.headers})
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()
            if response.status >= 300:
                raise RuntimeError(f"upload answered {response.status}")
        return time.perf_counter() - started

    def closed_loop(self, clients: int, seconds: float) -> dict[str, float]:
        """`clients` back-to-back senders for `seconds`: throughput and p50."""
        deadline = time.monotonic() + seconds
        latencies: list[float] = []

        def client() -> None:
            while time.monotonic() < deadline:
                latencies.append(self.upload())

        started = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            for future in [pool.submit(client) for _ in range(clients)]:
                future.result()
        elapsed = time.perf_counter() - started
        return {"uploads": len(latencies), "per_s": len(latencies) / elapsed, "p50_ms": statistics.median(latencies) * 1000}

    def open_loop(self, rate: float, seconds: float) -> list[float]:
        """Uploads started at a fixed `rate` per second for `seconds`, whatever the answers take."""
        latencies: list[float] = []
        count = int(rate * seconds)
        started = time.monotonic()
        with ThreadPoolExecutor(32) as pool:
            futures = []
            for i in range(count):
                delay = started + i / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                futures.append(pool.submit(self.upload))
            for future in futures:
                latencies.append(future.result())
        return latencies


def _skipped(base: str) -> float:
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as response:
        text = response.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("portal_shadow_runs_total{") and 'result="skipped"' in line)


def run(primary: str, seconds: float, clients: int) -> dict[str, Any]:
    """The three measurements on one freshly started portal."""
    from flags import open_service

    scratch = ROOT / "results"
    scratch.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-shadow-", dir=scratch) as tmp:
        instance = Path(tmp) / "instance"
        with Server(instance, workers=2, log_path=Path(tmp) / "server.log") as base:
            flags = open_service(f"sqlite:///{instance / 'portal.db'}")
            flags.ensure_flags()
            flags.set_percent("refactored_upload", 100 if primary == "refactored" else 0, actor="bench")

            def shadow(percent: float) -> None:
                flags.set_percent("shadow_upload", percent, actor="bench")
                time.sleep(1.5)  # the server's flag cache lets a change through within 1 s

            load = Load(base, _bodies())
            shadow(0)
            load.closed_loop(clients, 3)  # warm up
            capacity = load.closed_loop(clients, seconds)
            rate = capacity["per_s"] / 2
            half: dict[str, list[float]] = {"off": [], "on": []}
            for phase in PHASES:
                shadow(100 if phase == "on" else 0)
                half[phase] += load.open_loop(rate, seconds / 2)
            saturated: dict[str, list[dict]] = {"off": [], "on": []}
            skipped = 0.0
            for phase in PHASES:
                shadow(100 if phase == "on" else 0)
                skipped_before = _skipped(base)
                saturated[phase].append(load.closed_loop(clients, seconds / 2))
                skipped += _skipped(base) - skipped_before
            flags.close()
    p50_off, p50_on = (statistics.median(half[p]) * 1000 for p in ("off", "on"))
    per_s = {phase: sum(r["uploads"] for r in runs) / (len(runs) * seconds / 2) for phase, runs in saturated.items()}
    return {
        "primary": primary, "candidate": "refactored" if primary == "original" else "original", "clients": clients,
        "capacity_per_s": capacity["per_s"], "half_rate_per_s": rate,
        "half_p50_off_ms": p50_off, "half_p50_on_ms": p50_on, "half_p50_ratio": p50_on / p50_off,
        "saturated_off_per_s": per_s["off"], "saturated_on_per_s": per_s["on"],
        "saturated_throughput_ratio": per_s["on"] / per_s["off"],
        "saturated_shadow_skipped": skipped, "saturated_uploads": sum(r["uploads"] for r in saturated["on"]),
    }


def render(r: dict[str, Any]) -> str:
    """Markdown summary."""
    return "\n".join([
        f"Primary path **{r['primary']}**, shadow runs **{r['candidate']}**; 2 gunicorn workers, {r['clients']} clients.",
        "",
        f"- capacity (shadow off): {r['capacity_per_s']:.1f} uploads/s",
        f"- at half capacity ({r['half_rate_per_s']:.1f}/s): p50 {r['half_p50_off_ms']:.1f} ms off, "
        f"{r['half_p50_on_ms']:.1f} ms with 100% shadow: **{r['half_p50_ratio']:.2f}x** (target <= 1.10x)",
        f"- at saturation: {r['saturated_off_per_s']:.1f} uploads/s off, {r['saturated_on_per_s']:.1f} with 100% shadow: "
        f"**{r['saturated_throughput_ratio']:.2f}x** (target >= 0.90x); {r['saturated_shadow_skipped']:.0f} of "
        f"{r['saturated_uploads']} shadow runs shed",
    ])


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run, print and write the figures."""
    parser = argparse.ArgumentParser(prog="python -m loadtests.bench_shadow")
    parser.add_argument("--primary", choices=["original", "refactored"], default="original")
    parser.add_argument("--seconds", type=float, default=12)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--out", default=str(ROOT / "results" / "bench_shadow.json"))
    args = parser.parse_args([] if argv is None else argv)
    result = run(args.primary, args.seconds, args.clients)
    publish(args.out, result, render(result))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
