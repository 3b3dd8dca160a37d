"""Slow clients cannot hold a worker thread: a request body must arrive within a deadline.

gunicorn's `gthread` workers serve each request in a thread; a client sending its body
at 1 byte/s would hold one for hours. This middleware wraps `wsgi.input` so that every
read checks the request's age: past `body_timeout` seconds the read fails with 408 and
the thread is free again. (A proxy in front that buffers whole request bodies, as
nginx does by default, keeps slow clients away from the portal altogether:
docs/operations.md.)
"""

from __future__ import annotations

import time

from flask import Flask
from werkzeug.exceptions import RequestTimeout


class DeadlineInput:
    """A `wsgi.input` whose reads fail once the request is older than its deadline."""

    def __init__(self, stream, deadline: float, seconds: float) -> None:
        self._stream = stream
        self._deadline = deadline
        self._seconds = seconds

    def _check(self) -> None:
        if time.monotonic() > self._deadline:
            raise RequestTimeout(f"the request body did not arrive within {self._seconds:g} s")

    def read(self, *args):
        """Read, unless the deadline has passed."""
        self._check()
        return self._stream.read(*args)

    def readline(self, *args):
        """Read a line, unless the deadline has passed."""
        self._check()
        return self._stream.readline(*args)

    def __iter__(self):
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line


def init_app(app: Flask, body_timeout: float) -> None:
    """Put every request body under `body_timeout` seconds (0: no deadline)."""
    if body_timeout <= 0:
        return
    inner = app.wsgi_app

    def with_deadline(environ, start_response):
        stream = environ.get("wsgi.input")
        if stream is not None:
            environ["wsgi.input"] = DeadlineInput(stream, time.monotonic() + body_timeout, body_timeout)
        return inner(environ, start_response)

    app.wsgi_app = with_deadline
