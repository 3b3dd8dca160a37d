"""Times as staff read them: California local time with the zone named (`ca_time`); the admin
pages, read by ops beside logs and Prometheus, show UTC to the second (`utc_time`).

The database keeps UTC (SQLite hands it back without a zone, so a naive value is UTC).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

CALIFORNIA = ZoneInfo("America/Los_Angeles")


def _moment(value: dt.datetime | str) -> dt.datetime | str:
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value


def utc_time(value: dt.datetime | str | None) -> str:
    """`2026-12-03 10:31:07 UTC`; '' for None; ISO text is parsed first (unparseable text is shown as is)."""
    if value is None or value == "":
        return ""
    value = _moment(value)
    return value if isinstance(value, str) else value.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def ca_time(value: dt.datetime | str | None, seconds: bool = False) -> str:
    """`2026-12-03 02:31 PST` (PDT in summer); '' for None; ISO text is parsed first."""
    if value is None or value == "":
        return ""
    value = _moment(value)
    if isinstance(value, str):
        return value
    return value.astimezone(CALIFORNIA).strftime("%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z")


def init_app(app) -> None:
    """Register the `ca_time` and `utc_time` template filters."""
    app.jinja_env.filters["ca_time"] = ca_time
    app.jinja_env.filters["utc_time"] = utc_time
