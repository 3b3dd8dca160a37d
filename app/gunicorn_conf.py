"""gunicorn settings the portal needs (`harness serve` passes them): metrics of dead workers."""

from app.metrics import mark_worker_dead


def child_exit(server, worker) -> None:
    """A worker exited: mark its metric files dead (counters stay, live gauges go)."""
    mark_worker_dead(worker.pid)
