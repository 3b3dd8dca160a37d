"""gunicorn settings the portal needs (`harness serve` passes them): metrics of dead workers,
and each worker's rollout controller thread (started after the fork, stopped on exit; the
database lease lets one of them act),
and an access log that never carries a secret.

A client that wrongly puts a token in the URL (`?token=...`, `?access_token=...`) would
leave it in every access-log line, its referer and any log shipped from there. The
access log here redacts such query parameters in the request line, the query string and
the referer, and never writes the Authorization or Cookie header, whatever format is set.
"""


import os
import re

from gunicorn.glogging import Logger

from app.config import MULTIPROC_ENV
from app.harness.metrics import mark_worker_dead

REDACTED = "[redacted]"
# Query parameters whose value is a secret (case-insensitive, also with a prefix: admin_token).
_SECRET_PARAM = re.compile(r"(?i)((?:^|[?&;])[\w.-]*(?:token|password|secret|api_key|apikey)=)[^&;#\s\"]*")
_SECRET_HEADERS = ("{authorization}i", "{cookie}i", "{x-csrftoken}i", "{x-csrf-token}i", "{http_authorization}e",
                   "{http_cookie}e", "{http_x_csrftoken}e")


def redact(text):
    """`text` with the value of every secret-looking query parameter replaced."""
    if not isinstance(text, str):
        return text
    return _SECRET_PARAM.sub(lambda m: m.group(1) + REDACTED, text)


class RedactingLogger(Logger):
    """gunicorn's logger, with secrets taken out of the access log's atoms."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "q", "f", "{referer}i", "{raw_uri}e", "{query_string}e", "{http_referer}e"):
            if key in atoms:
                atoms[key] = redact(atoms[key])
        for key in _SECRET_HEADERS:
            if key in atoms:
                atoms[key] = REDACTED
        return atoms


logger_class = RedactingLogger


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
