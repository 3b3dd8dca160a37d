"""The app's shadow runs: sampling by flag, the candidate path, and where results go.

A routed upload is shadowed when `shadow_upload` / `shadow_staged_upload` samples it
(the flag is asked with a fresh id per request, so its percentage is a share of requests,
independent of which path serves the user). The candidate is the other path's
`evaluate`, against the base state the control saw; it writes nothing. Results go to the
metrics and, for mismatches, to the mismatch store. Nothing here can fail an upload.
"""

from __future__ import annotations

import logging
import uuid

from app.config import Settings
from app.ingest.context import IngestContext
from app.ingest.outcome import Outcome, Upload
from app.ingest.paths import IMPLEMENTATIONS
from app.metrics import SERVER_ERRORS, Metrics
from shadow import IgnoreRules, MismatchStore, Observation, Result, ShadowRunner
from shadow.result import SKIPPED

log = logging.getLogger(__name__)
SHADOW_FLAGS = {"direct": "shadow_upload", "staged": "shadow_staged_upload"}


class Shadowing:
    """Decides which uploads to shadow and runs them."""

    def __init__(self, settings: Settings, ingest: IngestContext, flags, metrics: Metrics, store: MismatchStore) -> None:
        self._ingest = ingest
        self._flags = flags
        self._metrics = metrics
        self.store = store
        self.runner = ShadowRunner(
            self._candidate, rules=IgnoreRules.reviewed(), publishers=(self._count, store.record),
            workers=settings.shadow_workers, queue_size=settings.shadow_queue, timeout=settings.shadow_timeout,
            same_path=settings.shadow_same_path, on_error=self._on_error,
        )

    def _candidate(self, path: str, route: str, upload: Upload, base: dict | None) -> Outcome:
        return IMPLEMENTATIONS[path].evaluate(self._ingest, upload, route, lambda _id: base)

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
        """Stop the runner."""
        self.runner.close()
