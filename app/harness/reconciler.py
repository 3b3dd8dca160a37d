"""The reconciler's schedule: one pass at start (`harness serve`), then one every
`reconcile_interval` seconds in a thread of each portal process, and on demand
(`harness uploads reconcile`). The passes themselves are `app.ingest.reconcile`
(idempotent, so processes need not agree who runs them).
"""

from __future__ import annotations

import logging
import os
import random
import threading
from collections.abc import Callable

from app.ingest.context import IngestContext
from app.ingest.errors import DatabaseUnavailable
from app.ingest.reconcile import ReconcileReport, reconcile

log = logging.getLogger(__name__)


class Reconciler:
    """Runs reconcile passes and keeps the last report (the metrics read it)."""

    def __init__(self, ctx: IngestContext, older_than: float, interval: float,
                 on_report: Callable[[ReconcileReport], None] = lambda report: None) -> None:
        self.ctx = ctx
        self.older_than = older_than
        self.interval = interval
        self.on_report = on_report
        self.last_report: ReconcileReport | None = None
        self._stop = threading.Event()
        self._pid: int | None = None

    def run_once(self) -> ReconcileReport | None:
        """One pass; None (logged) when the database is unavailable."""
        try:
            report = reconcile(self.ctx, self.older_than)
        except DatabaseUnavailable as error:
            log.warning("reconciler: database unavailable (%s); next pass in %.0f s", error, self.interval)
            return None
        except OSError as error:
            log.warning("reconciler: upload folder unavailable (%s)", error)
            return None
        self.last_report = report
        self.on_report(report)
        return report

    def start(self) -> None:
        """Start the periodic thread of this process (once per process; not with interval 0)."""
        if self.interval <= 0 or self._pid == os.getpid():
            return
        self._pid = os.getpid()
        self._stop.clear()
        threading.Thread(target=self._loop, name="upload-reconciler", daemon=True).start()

    def _loop(self) -> None:
        # Processes start together: spread their passes over the interval.
        if self._stop.wait(random.uniform(0, min(self.interval, 10.0))):
            return
        while True:
            self.run_once()
            if self._stop.wait(self.interval * random.uniform(0.8, 1.2)):
                return

    def close(self) -> None:
        """Stop the thread after its current pass."""
        self._stop.set()
