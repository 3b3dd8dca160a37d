"""Slow clients cannot hold a worker thread: a request body must arrive within a deadline.

gunicorn's `gthread` workers serve each request in a thread; a client sending its body
at 1 byte/s would hold one for hours (gunicorn reads a body until it has the bytes it
asked for, with no deadline of its own). This middleware arms a deadline on the
request's socket while its body is read: past `body_timeout` seconds one watchdog thread
per process shuts the socket's reading side, the blocked read returns, the request is
answered 408 and the thread is free. (A proxy in front that buffers whole request bodies,
as nginx does by default, keeps slow clients away from the portal altogether:
docs/operations.md.)
"""

from __future__ import annotations

import os
import socket
import threading
import time

from flask import Flask
from werkzeug.exceptions import RequestTimeout


class _Armed:
    def __init__(self, deadline: float, fd: int) -> None:
        self.deadline = deadline
        self.fd = fd
        self.fired = False
        self.done = False


class SocketDeadlines:
    """Shuts the reading side of sockets still being read past their deadline."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._armed: set[_Armed] = set()
        self._pid: int | None = None

    def arm(self, fd: int, seconds: float) -> _Armed:
        """Watch `fd` for `seconds`."""
        entry = _Armed(time.monotonic() + seconds, fd)
        with self._lock:
            if self._pid != os.getpid():  # a fresh thread in each forked worker
                self._pid = os.getpid()
                self._armed = set()
                threading.Thread(target=self._run, name="body-deadlines", daemon=True).start()
            self._armed.add(entry)
            self._lock.notify()
        return entry

    def disarm(self, entry: _Armed) -> None:
        """The body is read (or the request is over): stop watching."""
        with self._lock:
            entry.done = True
            self._armed.discard(entry)

    def _run(self) -> None:
        with self._lock:
            while True:
                now = time.monotonic()
                for entry in [e for e in self._armed if e.deadline <= now]:
                    self._armed.discard(entry)
                    entry.fired = True
                    try:
                        with socket.socket(fileno=os.dup(entry.fd)) as sock:
                            sock.shutdown(socket.SHUT_RD)
                    except OSError:
                        pass
                upcoming = min((e.deadline for e in self._armed), default=None)
                self._lock.wait(None if upcoming is None else max(0.01, upcoming - now))


class DeadlineInput:
    """A `wsgi.input` that answers 408 once its socket's deadline fired, and disarms at the end of the body."""

    def __init__(self, stream, entry: _Armed, deadlines: SocketDeadlines, length: int, seconds: float) -> None:
        self._stream = stream
        self._entry = entry
        self._deadlines = deadlines
        self._left = length
        self._seconds = seconds

    def _after(self, data: bytes) -> bytes:
        if self._entry.fired:
            raise RequestTimeout(f"the request body did not arrive within {self._seconds:g} s")
        self._left -= len(data)
        if self._left <= 0 or not data:
            self._deadlines.disarm(self._entry)
        return data

    def read(self, *args):
        """Read from the body (408 past the deadline)."""
        return self._after(self._stream.read(*args))

    def readline(self, *args):
        """Read a line from the body (408 past the deadline)."""
        return self._after(self._stream.readline(*args))

    def __iter__(self):
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line


def init_app(app: Flask, body_timeout: float) -> None:
    """Put every request body read from a gunicorn socket under `body_timeout` seconds (0: none)."""
    if body_timeout <= 0:
        return
    inner = app.wsgi_app
    deadlines = SocketDeadlines()

    def with_deadline(environ, start_response):
        sock = environ.get("gunicorn.socket")
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if sock is None or length <= 0:
            return inner(environ, start_response)
        entry = deadlines.arm(sock.fileno(), body_timeout)
        environ["wsgi.input"] = DeadlineInput(environ["wsgi.input"], entry, deadlines, length, body_timeout)
        try:
            return inner(environ, start_response)
        finally:
            deadlines.disarm(entry)

    app.wsgi_app = with_deadline
