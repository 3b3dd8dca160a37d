"""Readiness within a fixed budget: every dependency is asked at once, in threads, and
one that does not answer in time is reported as such, so `/readyz` answers within
`budget` seconds whatever the dependencies do (issue 17).

A check still running from an earlier probe is not started again (a stuck server cannot
pile up threads); it is reported as not answering until it returns.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from app.ingest.errors import DatabaseUnavailable
from flags import StoreUnavailable

log = logging.getLogger(__name__)
OK = "ok"
DEGRADED = "degraded"


@dataclass(frozen=True)
class Probe:
    """One readiness answer: each check's verdict, and whether all are ok."""

    checks: Mapping[str, str]
    seconds: float

    @property
    def ready(self) -> bool:
        """True when every check said ok or degraded (serving, with a fallback in use)."""
        return all(value == OK or value.startswith(DEGRADED) for value in self.checks.values())

    @property
    def status(self) -> str:
        """`ok`, `degraded` (ready, but something needs an operator) or `unavailable`."""
        if not self.ready:
            return "unavailable"
        return DEGRADED if any(value != OK for value in self.checks.values()) else OK


class _Check:
    def __init__(self, name: str, check: Callable[[], str | None]) -> None:
        self.name = name
        self.check = check
        self.lock = threading.Lock()
        self.running_since: float | None = None
        self.result: str | None = None

    def start(self) -> threading.Event | None:
        with self.lock:
            if self.running_since is not None:
                return None
            self.running_since = time.monotonic()
            self.result = None
        done = threading.Event()
        threading.Thread(target=self._run, args=(done,), name=f"readiness-{self.name}", daemon=True).start()
        return done

    def _run(self, done: threading.Event) -> None:
        try:
            verdict = self.check() or OK
        except Exception as error:  # noqa: BLE001 - any failure means not ready
            log.warning("readiness: %s: %s", self.name, error)
            verdict = f"unreachable: {_short(error)}"
        with self.lock:
            self.result = verdict
            self.running_since = None
        done.set()


def _short(error: BaseException) -> str:
    """The reason without hosts or ports (the log has the detail)."""
    if isinstance(error, DatabaseUnavailable):
        return str(error)  # its messages are written for users already
    if isinstance(error, StoreUnavailable):
        cause = error.__cause__
        return f"the flag store failed during {error.operation}" + (f" ({type(cause).__name__})" if cause else "")
    return type(error).__name__


class Readiness:
    """Runs named checks (each returns None/`ok`, a degraded verdict, or raises) within `budget`."""

    def __init__(self, checks: Mapping[str, Callable[[], str | None]], budget: float = 1.5) -> None:
        self.budget = budget
        self._checks = [_Check(name, check) for name, check in checks.items()]

    def probe(self) -> Probe:
        """Ask every dependency; never takes much longer than the budget."""
        started = time.monotonic()
        waits = [(check, check.start()) for check in self._checks]
        checks: dict[str, str] = {}
        for check, done in waits:
            if done is None:
                since = check.running_since
                age = time.monotonic() - since if since is not None else 0.0
                checks[check.name] = f"no answer (an earlier check is still waiting, {age:.0f} s)"
                continue
            remaining = self.budget - (time.monotonic() - started)
            if done.wait(max(0.0, remaining)):
                checks[check.name] = check.result or OK
            else:
                checks[check.name] = f"no answer within {self.budget:g} s"
        return Probe(checks, time.monotonic() - started)
