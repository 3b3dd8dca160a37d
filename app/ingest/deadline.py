"""Client-side deadlines on database work: a stuck server cannot hold a request forever.

A server that stops answering without closing its sockets (a frozen host, a SIGSTOPped
PostgreSQL, a partition that drops packets) is not noticed by the server's own
`statement_timeout` (it does not run) nor by TCP keepalives while the kernel still
acknowledges. So every database transaction runs under a deadline: one watchdog thread
per process shuts the socket of any connection still in use past it, the blocked call
returns with an error, and the caller answers 503 instead of waiting for gunicorn to
kill the worker.

    deadlines = Deadlines(3.0)
    with deadlines.bound():              # this thread's database work, at most 3 s
        ...                              # connections checked out here are watched
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class _Bound:
    """The database work of one thread, its deadline and the sockets it uses."""

    deadline: float
    fds: list[int] = field(default_factory=list)
    fired: bool = False


def shut_socket(fd: int) -> None:
    """Shut a socket down by descriptor (the owner's blocked read returns at once)."""
    try:
        dup = os.dup(fd)
    except OSError:
        return
    try:
        with socket.socket(fileno=dup) as sock:
            sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class Deadlines:
    """Per-thread deadlines on database work, enforced by one watchdog thread per process."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._local = threading.local()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._active: dict[int, _Bound] = {}
        self._thread_pid: int | None = None

    @contextmanager
    def bound(self) -> Iterator[None]:
        """Run the block under the deadline (nested blocks share the outer one)."""
        if getattr(self._local, "bound", None) is not None or self.seconds <= 0:
            yield
            return
        entry = _Bound(time.monotonic() + self.seconds)
        self._local.bound = entry
        with self._lock:
            self._ensure_thread()
            self._active[id(entry)] = entry
            self._wake.notify()
        try:
            yield
        finally:
            self._local.bound = None
            with self._lock:
                self._active.pop(id(entry), None)

    def expired(self) -> bool:
        """True when the current thread's deadline has fired (its error is a timeout)."""
        entry = getattr(self._local, "bound", None)
        return bool(entry and entry.fired)

    def watch(self, fd: int | None) -> None:
        """Watch a socket the current thread uses (called when a connection is checked out)."""
        entry = getattr(self._local, "bound", None)
        if entry is None or fd is None or fd < 0:
            return
        with self._lock:
            entry.fds.append(fd)
            if entry.fired:
                shut_socket(fd)

    def _ensure_thread(self) -> None:
        # After a fork (gunicorn workers) the parent's watchdog thread is gone: start anew.
        if self._thread_pid != os.getpid():
            self._thread_pid = os.getpid()
            self._active = {}
            threading.Thread(target=self._run, name="db-deadlines", daemon=True).start()

    def _run(self) -> None:
        with self._lock:
            while True:
                now = time.monotonic()
                next_deadline = None
                for entry in self._active.values():
                    if entry.fired:
                        continue
                    if entry.deadline <= now:
                        entry.fired = True
                        for fd in entry.fds:
                            shut_socket(fd)
                    elif next_deadline is None or entry.deadline < next_deadline:
                        next_deadline = entry.deadline
                self._wake.wait(None if next_deadline is None else max(0.01, next_deadline - now))
