"""Times as staff read them: California local time with the zone named (`ca_time`).

The database keeps UTC (SQLite hands it back without a zone, so a naive value is UTC).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

CALIFORNIA = ZoneInfo("America/Los_Angeles")


def ca_time(value: dt.datetime | str | None, seconds: bool = False) -> str:
    """`2026-12-03 02:31 PST` (PDT in summer); '' for None; ISO text is parsed first."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(CALIFORNIA).strftime("%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z")


def init_app(app) -> None:
    """Register the `ca_time` template filter."""
    app.jinja_env.filters["ca_time"] = ca_time
