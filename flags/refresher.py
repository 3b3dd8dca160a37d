"""One background thread per process that keeps a decision cache fresh, fork-safe.

A `Refresher` runs `cache.tick()` on a daemon thread: reload when due, report the
store's health, sleep until the next reload is due. Requests then only read the
snapshot the thread installed, so a frozen, dead or slow store costs them nothing.

Threads do not survive `fork()`: gunicorn may fork workers after the app (and its flag
service) was built. So the thread is started lazily, by the first decision made in the
process that uses it, and an `os.register_at_fork` hook forgets the parent's thread in
the child (and lets the cache renew its lock and its store's connections there), so the
child's first decision starts a thread of its own. The thread holds the cache only
weakly: a cache nobody uses any more is collected and its thread ends.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Callable
from typing import Protocol

__all__ = ["Refresher", "Tickable"]

log = logging.getLogger(__name__)

# The process id as of the last fork (kept by the at-fork hook; no syscall per request).
_pid = os.getpid()
_live: weakref.WeakSet[Refresher] = weakref.WeakSet()
_start_lock = threading.Lock()


class Tickable(Protocol):
    """What the refresher drives: one step of reloading, returning seconds until the next."""

    def tick(self) -> float:
        """Reload if due and report health; seconds until the next tick is due."""
        ...

    def after_fork(self) -> None:
        """Renew what a forked child cannot share with its parent (locks, connections)."""
        ...


class Refresher:
    """Keeps one cache fresh from a daemon thread of this process (started on demand)."""

    def __init__(self, cache: Tickable, name: str = "flags-refresher") -> None:
        self._cache = weakref.ref(cache)
        self._name = name
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._wake = threading.Event()
        self._stopped = False
        _live.add(self)

    @property
    def running(self) -> bool:
        """True when this process has a live refresher thread."""
        return self._thread is not None and self._pid == _pid and self._thread.is_alive()

    def ensure_running(self) -> None:
        """Start the thread in this process if it is not running (cheap when it is)."""
        if self._pid == _pid and self._thread is not None or self._stopped:
            return
        with _start_lock:
            if self._pid == _pid and self._thread is not None or self._stopped:
                return
            thread = threading.Thread(target=_run, args=(self._cache, self._wake, self), name=self._name, daemon=True)
            self._thread, self._pid = thread, _pid
            thread.start()

    def wake(self) -> None:
        """Make the thread tick now instead of at its next due time."""
        self._wake.set()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the thread (for good) and wait a little for it to end."""
        self._stopped = True
        self._wake.set()
        thread = self._thread
        if thread is not None and self._pid == _pid and thread is not threading.current_thread():
            thread.join(timeout)

    def _forked(self) -> None:
        # In the child only the forking thread exists: forget the parent's thread, renew
        # the event (its internal lock may have been held) and let the cache renew its own.
        self._thread, self._pid = None, None
        self._wake = threading.Event()
        cache = self._cache()
        if cache is not None:
            cache.after_fork()

    @property
    def stopped(self) -> bool:
        """True once `stop` was called."""
        return self._stopped


def _run(cache_ref: Callable[[], Tickable | None], wake: threading.Event, refresher: Refresher) -> None:
    while not refresher.stopped:
        cache = cache_ref()
        if cache is None:
            return
        try:
            delay = cache.tick()
        except Exception:  # the thread must outlive any one failure
            log.exception("flag refresher tick failed")
            delay = 1.0
        del cache  # hold the cache only while ticking, so it can be collected
        if wake.wait(delay):
            wake.clear()


def _after_fork_in_child() -> None:
    global _pid, _start_lock
    _pid = os.getpid()
    _start_lock = threading.Lock()
    for refresher in list(_live):
        try:
            refresher._forked()
        except Exception:  # never break the child over a cache it may not even use
            log.exception("flag refresher: resetting after fork failed")


os.register_at_fork(after_in_child=_after_fork_in_child)
