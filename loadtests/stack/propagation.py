"""Kill-switch propagation across the stack's instances, measured per worker.

Probe threads send routed decisions straight to each instance (`POST /upload` with no
file: the router chooses, the upload is refused, the answer's X-Ingest-Path names the
path chosen) with a request id of their own; each instance's access log names the
worker (pid) that answered each id. The flag is at 100%, then killed: for each worker,
the time from just before `kill()` to the first `original` answer to a probe sent after
its last `refactored` one is an upper bound of when the kill reached that worker.
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from flags import REFACTORED_UPLOAD, FlagService
from loadtests.stack.client import Answer, post, worker_of_request
from loadtests.stack.runner import StackState, worker_pids

PROBE_USER = "kill-probe"


class PropagationError(AssertionError):
    """The probes could not show the kill reaching a worker (the message says which and why)."""


@dataclass(frozen=True)
class KillPropagation:
    """Seconds from the kill to each worker deciding `original`, and how many probes were sent."""

    per_worker: dict[int, float]
    probes: int

    @property
    def median_s(self) -> float:
        """Median over the workers."""
        return statistics.median(self.per_worker.values())

    @property
    def max_s(self) -> float:
        """The slowest worker."""
        return max(self.per_worker.values())


def _probe(base_url: str, stop_at: float, answers: list[Answer], pause: float) -> None:
    while time.monotonic() < stop_at:
        answers.append(post(base_url, "/upload", user=PROBE_USER, request_id=uuid.uuid4().hex, timeout=10))
        time.sleep(pause)


def instance_logs(state: StackState) -> list[Path]:
    """The gunicorn access logs of the instances."""
    return [Path(state.process(f"portal-{n}").log) for n in range(1, len(state.portal_urls) + 1)]


def measure_kill(state: StackState, flags: FlagService, *, settle_s: float = 2.5, before_s: float = 2.0,
                 after_s: float = 6.0, threads_per_instance: int = 3, pause: float = 0.005) -> KillPropagation:
    """Put the flag at 100%, probe every worker, kill the flag, and time each worker's switch."""
    flags.resume(REFACTORED_UPLOAD, actor="stack-probe", reason="propagation measurement: start from a live flag")
    flags.set_percent(REFACTORED_UPLOAD, 100, actor="stack-probe")
    time.sleep(settle_s)  # every worker has read the 100% (bound: 1 s)
    answers: list[Answer] = []
    stop_at = time.monotonic() + before_s + after_s
    threads = [threading.Thread(target=_probe, args=(url, stop_at, answers, pause))
               for url in state.portal_urls for _ in range(threads_per_instance)]
    for thread in threads:
        thread.start()
    time.sleep(before_s)
    killed_at = time.monotonic()
    flags.kill(REFACTORED_UPLOAD, actor="stack-probe", reason="propagation measurement")
    for thread in threads:
        thread.join()
    return judge(state, answers, killed_at)


def judge(state: StackState, answers: list[Answer], killed_at: float) -> KillPropagation:
    """Per worker: was it on refactored before, and when did it switch for good."""
    workers = {pid for n in range(1, len(state.portal_urls) + 1) for pid in worker_pids(state.process(f"portal-{n}").pid)}
    served_by = worker_of_request(instance_logs(state))
    per_worker: dict[int, list[Answer]] = {}
    for answer in answers:
        if answer.status != 400 or answer.request_id not in served_by:
            raise PropagationError(f"a probe was not answered as a refused upload: {answer}")
        per_worker.setdefault(served_by[answer.request_id][0], []).append(answer)
    if set(per_worker) != workers:
        raise PropagationError(f"probes reached workers {sorted(per_worker)}, the instances run {sorted(workers)}")
    reached = {}
    for pid, mine in per_worker.items():
        before = [a.path for a in mine if a.received < killed_at]
        if not before or set(before) != {"refactored"}:
            raise PropagationError(f"worker {pid} was not on refactored before the kill: {before}")
        after = [a for a in mine if a.sent > killed_at]
        last_refactored = max((a.sent for a in after if a.path == "refactored"), default=killed_at)
        switched = [a.received for a in after if a.path == "original" and a.sent >= last_refactored]
        if not switched:
            raise PropagationError(f"worker {pid} never answered original after the kill")
        reached[pid] = min(switched) - killed_at
    return KillPropagation(reached, len(answers))
