"""gunicorn settings the portal needs (`harness serve` passes them): metrics of dead workers."""

import os

from app.config import MULTIPROC_ENV
from app.harness.metrics import mark_worker_dead


def child_exit(server, worker) -> None:
    """A worker exited: mark its metric files dead (counters stay, live gauges go)."""
    # The master's environment, set by `harness serve` before gunicorn started.
    mark_worker_dead(worker.pid, os.environ.get(MULTIPROC_ENV))
