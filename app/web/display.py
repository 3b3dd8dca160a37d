"""How pages show stored field values: date fields in California local time, zone named.

`misc_json` keeps datetimes as UTC ISO-8601 text (`2024-06-25T21:30:00+00:00`); CARB staff
read them as California wall-clock time (`2024-06-25 14:30 PDT`), as `timefmt.ca_time`
shows the database's own timestamps. Registered as the Jinja filter `field_value` by
`app.web.init_app`.
"""

from __future__ import annotations

import datetime as dt

from app.web.timefmt import ca_time


def _stored_moment(value: object) -> dt.datetime | None:
    if not isinstance(value, str) or len(value) < 16 or value[4:5] != "-":
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def field_value(value: object, key: str, datetime_fields: frozenset[str]) -> object:
    """A field's stored value as a page shows it: dates in California time, null as blank."""
    if value is None:
        return ""
    moment = _stored_moment(value) if key in datetime_fields else None
    if moment is not None:
        return ca_time(moment, seconds=bool(moment.astimezone(dt.timezone.utc).second))
    return value
