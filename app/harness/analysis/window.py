"""A time window: where a comparison's uploads come from."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_span(text: str) -> dt.timedelta:
    """`30m`, `24h`, `7d` as a timedelta; raises ValueError naming the text."""
    match = _SPAN.match(text or "")
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"{text!r} is not a duration: write e.g. 30m, 24h or 7d")
    return dt.timedelta(seconds=float(match.group(1)) * _UNIT[match.group(2)])


def parse_time(text: str) -> dt.datetime:
    """An ISO 8601 time (naive means UTC)."""
    try:
        value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 time (e.g. 2026-12-03T18:00:00Z)") from None
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


@dataclass(frozen=True)
class Window:
    """[start, end) in UTC."""

    start: dt.datetime
    end: dt.datetime

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(f"the window ends ({self.end.isoformat()}) before it starts ({self.start.isoformat()})")

    @classmethod
    def since(cls, span: str, now: dt.datetime) -> Window:
        """The `span` before `now`."""
        return cls(now - parse_span(span), now)

    @property
    def seconds(self) -> float:
        """The window's length in seconds."""
        return (self.end - self.start).total_seconds()

    def to_dict(self) -> dict:
        """JSON-ready."""
        return {"from": self.start.isoformat(), "to": self.end.isoformat(), "seconds": self.seconds}
