"""Running the candidate path off the request thread: bounded, timed, never hurting the user.

`submit` returns at once. The candidate runs in a small thread pool; at most
`workers + queue_size` runs are in flight, and a submit beyond that is shed and
published as `skipped`. Each run has a timeout, watched by one watchdog thread: when it
passes, a `timeout` result is published (a Python thread cannot be stopped, so a stuck
candidate keeps its slot until it returns, and later submits are shed instead of piling
up). Any exception in the candidate, the comparison or a publisher is handed to
`on_error` and logged; none reaches the caller.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from shadow.errors import CandidateTimeout, ShadowSkipped
from shadow.ignore import ErrorHook, IgnoreRules
from shadow.observation import Observation, observe
from shadow.result import ERROR, SKIPPED, Result

log = logging.getLogger(__name__)
Candidate = Callable[[str, str, object, object], object]  # (path, route, upload, base state) -> outcome
Publisher = Callable[[Result], None]
OTHER_PATH = {"original": "refactored", "refactored": "original"}


class _Watchdog:
    """One thread firing callbacks at deadlines (cheaper than a timer thread per run)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._cancelled: set[int] = set()
        self._ids = itertools.count()
        self._wake = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._loop, name="shadow-watchdog", daemon=True)
        self._thread.start()

    def schedule(self, delay: float, callback: Callable[[], None]) -> int:
        """Call `callback` after `delay` seconds unless cancelled; returns a handle."""
        with self._wake:
            handle = next(self._ids)
            heapq.heappush(self._heap, (self._clock() + delay, handle, callback))
            self._wake.notify()
            return handle

    def cancel(self, handle: int) -> None:
        """Forget a scheduled callback."""
        with self._wake:
            self._cancelled.add(handle)

    def stop(self) -> None:
        """End the thread."""
        with self._wake:
            self._stopped = True
            self._wake.notify()

    def _loop(self) -> None:
        while True:
            with self._wake:
                while not self._stopped and (not self._heap or self._heap[0][0] > self._clock()):
                    self._wake.wait(None if not self._heap else max(0.0, self._heap[0][0] - self._clock()))
                if self._stopped:
                    return
                _, handle, callback = heapq.heappop(self._heap)
                if handle in self._cancelled:
                    self._cancelled.discard(handle)
                    continue
            try:
                callback()
            except Exception:  # a publisher failing must not stop the watchdog
                log.exception("shadow timeout callback failed")


class ShadowRunner:
    """Runs the other path as a candidate against the control's base state and publishes results."""

    def __init__(self, candidate: Candidate, *, rules: IgnoreRules | None = None, publishers: Iterable[Publisher] = (),
                 workers: int = 1, queue_size: int = 4, timeout: float = 10.0, same_path: bool = False,
                 on_error: ErrorHook | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._candidate = candidate
        self._rules = rules if rules is not None else IgnoreRules()
        self._publishers = tuple(publishers)
        self._timeout = timeout
        self._same_path = same_path
        self._on_error = on_error
        self._clock = clock
        self._capacity = workers + queue_size
        self._slots = threading.BoundedSemaphore(self._capacity)
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="shadow")
        self._watchdog = _Watchdog(clock)
        self._closed = False

    def candidate_path(self, control_path: str) -> str:
        """The path shadow-run against `control_path` (the same one in A/A calibration)."""
        return control_path if self._same_path else OTHER_PATH[control_path]

    def submit(self, route: str, user: str, control: Observation, upload: object, base: object) -> bool:
        """Start a shadow run; False when it was shed (published as `skipped`). Never raises."""
        try:
            candidate_path = self.candidate_path(control.path)
            if self._closed or not self._slots.acquire(blocking=False):
                shed = ShadowSkipped("the shadow pool and queue are full" if not self._closed else "the runner is closed",
                                     route, candidate_path)
                self._publish(Result(route, user, control, Observation(candidate_path, exception=shed), SKIPPED))
                return False
            try:
                self._executor.submit(self._run, route, user, control, candidate_path, upload, base)
            except RuntimeError:  # the executor shut down meanwhile
                self._slots.release()
                shed = ShadowSkipped("the runner is closed", route, candidate_path)
                self._publish(Result(route, user, control, Observation(candidate_path, exception=shed), SKIPPED))
                return False
            return True
        except Exception as exc:  # noqa: BLE001 - nothing may reach the request
            self.raised("submit", exc)
            return False

    def _run(self, route: str, user: str, control: Observation, candidate_path: str, upload: object, base: object) -> None:
        once = threading.Lock()
        done = [False]

        def publish_once(result: Result) -> None:
            with once:
                if done[0]:
                    return
                done[0] = True
            self._publish(result)

        def on_timeout() -> None:
            late = CandidateTimeout(f"the {candidate_path} path ran past {self._timeout:g} s", route, candidate_path)
            publish_once(Result.compare(route, user, control, Observation(
                candidate_path, exception=late, duration=self._timeout, timed_out=True), self._rules))

        handle = self._watchdog.schedule(self._timeout, on_timeout)
        try:
            observation = observe(candidate_path, lambda: self._candidate(candidate_path, route, upload, base), self._clock)
            self._watchdog.cancel(handle)
            if observation.duration > self._timeout:
                observation = replace(observation, timed_out=True)
            if observation.raised:
                self.raised("candidate", observation.exception)
            try:
                result = Result.compare(route, user, control, observation, self._rules, self.raised)
            except Exception as exc:  # noqa: BLE001 - a comparator bug is an error result
                self.raised("compare", exc)
                result = Result(route, user, control, observation, ERROR)
            publish_once(result)
        finally:
            self._slots.release()

    def _publish(self, result: Result) -> None:
        for publisher in self._publishers:
            try:
                publisher(result)
            except Exception as exc:  # noqa: BLE001 - one publisher failing must not stop the others
                self.raised("publish", exc)

    def raised(self, operation: str, error: BaseException) -> None:
        """Every failure inside the experiment lands here: logged and reported, never raised."""
        log.warning("shadow %s failed: %s: %s", operation, type(error).__name__, error)
        if self._on_error is not None:
            try:
                self._on_error(operation, error)
            except Exception:  # noqa: BLE001
                log.exception("shadow on_error hook failed")

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until no run is in flight (tests, shutdown); False on timeout."""
        deadline = time.monotonic() + timeout
        taken = 0
        try:
            while taken < self._capacity:
                if not self._slots.acquire(timeout=max(0.0, deadline - time.monotonic())):
                    return False
                taken += 1
            return True
        finally:
            for _ in range(taken):
                self._slots.release()

    def close(self) -> None:
        """Stop accepting runs and release the threads."""
        self._closed = True
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._watchdog.stop()
