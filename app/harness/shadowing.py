"""The app's shadow runs: sampling by flag, the candidate path, and where results go.

A routed upload is shadowed when `shadow_upload` / `shadow_staged_upload` samples it
(the flag is asked with a fresh id per request, so its percentage is a share of requests,
independent of which path serves the user). The candidate is the other path's
`evaluate`, against the base state the control saw; it writes nothing. Results go to the
metrics and, for mismatches, to the mismatch store. Nothing here can fail an upload.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import uuid
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from app.config import Settings
from app.harness.metrics import Metrics
from app.harness.names import SERVER_ERRORS, SHADOW_FLAGS
from app.ingest.implementations import IMPLEMENTATIONS
from app.ingest.outcome import Outcome, Upload
from app.ingest.parity import INTENDED_DIFFERENCES, VOLATILE_FIELDS
from app.workbook.inspection import Limits
from shadow import IgnoreRule, IgnoreRules, MismatchStore, Observation, Result, ShadowRunner
from shadow.result import SKIPPED

log = logging.getLogger(__name__)


def reviewed_rules() -> IgnoreRules:
    """The shadow's comparison rules from the reviewed parity file (the parity tests' list)."""
    return IgnoreRules((IgnoreRule(d.field, d.reason, d.applies) for d in INTENDED_DIFFERENCES), VOLATILE_FIELDS)


def evaluate_candidate(path: str, route: str, upload: Upload, base: dict | None, limits: Limits) -> Outcome:
    """The candidate path's decision against `base`, writing nothing (runs in a pool process)."""
    return IMPLEMENTATIONS[path].evaluate(limits, upload, route, lambda _id: base)


def _lower_priority(niceness: int) -> None:
    os.nice(niceness)


class CandidatePool:
    """Candidates in separate processes at the lowest CPU priority.

    A shadow run in a thread of the serving process competes with the user's request for
    the interpreter lock: with the refactored path serving and the original (20 to 50
    times the CPU) shadowing, that multiplied the primary p50 by 50. In a `nice 19`
    process the operating system serves the user's request first and the shadow uses
    idle CPU. A candidate past its timeout gets its process killed and replaced.
    """

    def __init__(self, processes: int, limits: Limits, timeout: float, niceness: int = 19) -> None:
        self._processes, self._limits, self._timeout, self._niceness = processes, limits, timeout, niceness
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        # spawn, not fork: the serving process has threads, and a forked child could inherit held locks
        return ProcessPoolExecutor(self._processes, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_lower_priority, initargs=(self._niceness,))

    def __call__(self, path: str, route: str, upload: Upload, base: dict | None) -> Outcome:
        future = self._pool.submit(evaluate_candidate, path, route, upload, base, self._limits)
        try:
            return future.result(timeout=self._timeout + 1)
        except FutureTimeout:
            self._recycle()
            raise

    def _recycle(self) -> None:
        stuck, self._pool = self._pool, self._new_pool()
        for process in list(getattr(stuck, "_processes", {}).values()):
            process.kill()
        stuck.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop the processes."""
        self._pool.shutdown(wait=False, cancel_futures=True)


class Shadowing:
    """Decides which uploads to shadow and runs them."""

    def __init__(self, settings: Settings, limits: Limits, flags, metrics: Metrics, store: MismatchStore) -> None:
        self._limits = limits
        self._flags = flags
        self._metrics = metrics
        self.store = store
        self._pool = (CandidatePool(settings.shadow_processes, limits, settings.shadow_timeout)
                      if settings.shadow_processes else None)
        self.runner = ShadowRunner(
            self._pool or self._candidate, rules=reviewed_rules(), publishers=(self._count, store.record),
            workers=settings.shadow_workers, queue_size=settings.shadow_queue, timeout=settings.shadow_timeout,
            same_path=settings.shadow_same_path, on_error=self._on_error,
        )

    def _candidate(self, path: str, route: str, upload: Upload, base: dict | None) -> Outcome:
        return evaluate_candidate(path, route, upload, base, self._limits)

    def _count(self, result: Result) -> None:
        self._metrics.count_shadow(result)

    def _on_error(self, operation: str, error: BaseException) -> None:
        log.info("shadow %s error: %s", operation, error)

    def after_upload(self, route: str, user: str, outcome: Outcome, seconds: float, upload: Upload) -> None:
        """Shadow this routed upload if sampled; never raises."""
        try:
            if not self._flags.decide(SHADOW_FLAGS[route], uuid.uuid4().hex).enabled:
                return
            control = Observation(outcome.path, outcome, None, seconds)
            if outcome.error_type in SERVER_ERRORS:
                # The control failed on the portal's side; its base state is unknown.
                self._count(Result(route, user, control, Observation(self.runner.candidate_path(outcome.path)), SKIPPED))
                return
            self.runner.submit(route, user, control, upload, outcome.base_misc_json)
        except Exception:  # noqa: BLE001 - the user's upload is done; this is extra
            log.exception("shadowing the upload failed")

    def close(self) -> None:
        """Stop the runner (and its processes)."""
        self.runner.close()
        if self._pool is not None:
            self._pool.close()
