"""Time as a collaborator: a monotonic reading for cache ages, a UTC wall clock for the audit log."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol

__all__ = ["Clock", "SystemClock"]


class Clock(Protocol):
    """What the flag service needs from a clock; tests pass a manual one."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards (cache ages)."""
        ...

    def now(self) -> datetime:
        """The current UTC time (audit entries)."""
        ...


class SystemClock:
    """The real clocks: `time.monotonic` and `datetime.now(UTC)`."""

    def monotonic(self) -> float:
        """Seconds from `time.monotonic()`."""
        return time.monotonic()

    def now(self) -> datetime:
        """The current UTC time."""
        return datetime.now(UTC)
