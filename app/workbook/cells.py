"""The refactored path's rules for turning a cell's value into a field value (pure functions).

They are the legacy portal's rules (`legacy_cells`), except where the legacy is
nondeterministic, writes invalid JSON or loses data; each such case is listed with its
reason in `app/ingest/parity.py` (`CELL_DIFFERENCES`):

- `None` (an empty cell) stays `None` in every field type; an empty string is `""` in a
  text field and `None` in others.
- Text: surrounding white space stripped; only valid UTF-8 text kept (lone surrogates and
  control characters other than tab and newlines are dropped, which also keeps
  PostgreSQL's JSONB happy). Other values in a text field are written as `str()` does.
- A value already of the field's type is kept (a bool is an int, as in Python).
- Whole numbers: `int(text)` (`" 47 "` -> 47, `"47.0"` fails); a number with a fraction
  fails instead of being truncated (legacy: `int(12.7)` -> 12).
- Numbers: `float(text)`; NaN and infinity fail (legacy: stored, invalid JSON).
- Dates and times: text goes through `dateutil` as in the legacy, but text that does not
  say a whole date fails (legacy: `"43"` -> 2043 with today's month and day), and a time
  zone in the text is honoured, stored in UTC (legacy: the field is skipped). Numbers in a
  date field fail, as in the legacy.
- A cast that fails yields `None` and the caller records a warning, never a crash.
- Naive datetimes are California local time; stored values are UTC ISO-8601.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from zoneinfo import ZoneInfo

from dateutil import parser as dateutil_parser
from dateutil import tz

CALIFORNIA = ZoneInfo("America/Los_Angeles")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Larger integral floats keep their float form: Excel writes them in exponent notation.
_EXACT_INT_LIMIT = 10**15
# Two defaults that differ in year, month and day: text that parses alike under both says
# the whole date itself (dateutil fills what is missing from its default).
_DEFAULTS = (dt.datetime(2001, 1, 1), dt.datetime(2002, 2, 2))


class CastFailed(ValueError):
    """A value could not be cast to its field's type."""


class _Skipped:
    """The legacy's "no key at all" for a field (see `legacy_cells`)."""

    def __repr__(self) -> str:
        return "SKIPPED"


SKIPPED = _Skipped()


def normalize_cell(value: object) -> object:
    """One shape for table keys and the incidence id whatever the reader: integral floats
    become ints (calamine reads `7` as 7.0), dates midnight datetimes, `""` None."""
    if isinstance(value, float) and value.is_integer() and abs(value) < _EXACT_INT_LIMIT:
        return int(value)
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return dt.datetime(value.year, value.month, value.day)
    if value == "":
        return None
    return value


def clean_text(text: str) -> str:
    """Strip surrounding white space and keep only valid UTF-8 text."""
    if text.isprintable():  # the common case: no control characters, no lone surrogates
        return text.strip()
    text = text.encode("utf-8", "ignore").decode("utf-8")
    return _CONTROL.sub("", text).strip()


def _zone(name: str | None, offset: int | None) -> dt.tzinfo | None:
    """Zones dateutil may give: only explicit offsets (and UTC's names); other names are
    left naive, as dateutil itself does with a warning."""
    if offset is None:
        return None
    return tz.UTC if offset == 0 else tz.tzoffset(name, offset)


def parse_datetime_text(text: str) -> dt.datetime:
    """A date typed as text (any format dateutil reads, month first when ambiguous);
    raise `CastFailed` when it is not a date or does not say the whole date."""
    try:
        first = dateutil_parser.parse(text, default=_DEFAULTS[0], tzinfos=_zone)
        second = dateutil_parser.parse(text, default=_DEFAULTS[1], tzinfos=_zone)
    except (ValueError, OverflowError, TypeError) as exc:
        raise CastFailed(f"not a date and time: {text!r}") from exc
    if first != second:
        raise CastFailed(f"not a complete date (year, month and day): {text!r}")
    return first


def _to_int(value: object) -> int:
    if isinstance(value, int):  # a bool too, as in the legacy
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise CastFailed(f"not a whole number (not truncated): {value!r}")
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            raise CastFailed(f"not a whole number: {value!r}") from None
    raise CastFailed(f"not a whole number: {value!r}")


def _to_float(value: object) -> float:
    if isinstance(value, float):
        number = value
    elif isinstance(value, (int, str)):
        try:
            number = float(value)
        except ValueError:
            raise CastFailed(f"not a number: {value!r}") from None
    else:
        raise CastFailed(f"not a number: {value!r}")
    if not math.isfinite(number):
        raise CastFailed(f"not a finite number: {value!r}")
    return number


def _to_datetime(value: object) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        return parse_datetime_text(value)
    raise CastFailed(f"not a date and time: {value!r}")


_CASTS = {"int": _to_int, "float": _to_float, "datetime": _to_datetime}


def coerce(value: object, value_type: str) -> tuple[object, str | None]:
    """Cast a cell's value (as openpyxl gives it) to `value_type`: (value, None) or
    (None, why it failed)."""
    if value is None:
        return None, None
    if value_type == "str":
        return clean_text(value if isinstance(value, str) else str(value)), None
    if value == "":
        return None, None
    try:  # white space alone fails, with a warning, as in the legacy
        return _CASTS[value_type](value), None
    except CastFailed as exc:
        return None, str(exc)


def to_storage(value: object) -> object:
    """A field value as stored in `misc_json`: datetimes as UTC ISO-8601 text."""
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=CALIFORNIA)
        try:
            return aware.astimezone(dt.timezone.utc).isoformat()
        except OverflowError:  # within hours of year 1 or 9999: kept as written
            return value.isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return value
