"""gunicorn settings the portal needs (`harness serve` passes them): metrics of dead workers,
and each worker's rollout controller thread (started after the fork, stopped on exit; the
database lease lets one of them act)."""

import os

from app.config import MULTIPROC_ENV
from app.harness.metrics import mark_worker_dead


def child_exit(server, worker) -> None:
    """A worker exited: mark its metric files dead (counters stay, live gauges go)."""
    # The master's environment, set by `harness serve` before gunicorn started.
    mark_worker_dead(worker.pid, os.environ.get(MULTIPROC_ENV))

# The access log names the worker (pid) and the request id nginx set (X-Request-Id), so a
# request is traced from the balancer's log to the worker that answered it, with the
# ingestion path that served it.
access_log_format = ('%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" '
                     'pid=%(p)s rid=%({x-request-id}i)s path=%({x-ingest-path}o)s')

_controller = None  # this worker's rollout controller thread (one per worker process)


def post_worker_init(worker) -> None:
    """A worker is ready: start its rollout controller thread (the database lease picks who acts)."""
    global _controller
    from app.compose import services_of
    from app.harness.rollout.runner import start_in_worker

    _controller = start_in_worker(services_of(worker.wsgi))


def worker_exit(server, worker) -> None:
    """A worker is stopping: stop its controller and release the lease, so another acts at once."""
    if _controller is not None:
        _controller.stop()
