"""The portal's rules for turning a cell's value into a field value (pure functions).

- Strings: surrounding white space stripped; only valid UTF-8 text kept (lone
  surrogates and control characters other than tab and newlines are dropped, which also
  keeps PostgreSQL's JSONB happy).
- An empty string in a non-string field becomes null.
- A value of the wrong type is cast to the schema type; a cast that fails yields null and
  the caller records a warning, never a crash.
- Naive datetimes are California local time; stored values are UTC ISO-8601.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from zoneinfo import ZoneInfo

CALIFORNIA = ZoneInfo("America/Los_Angeles")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_INTEGER = re.compile(r"[+-]?\d+")
# Larger integral floats keep their float form: Excel writes them in exponent notation.
_EXACT_INT_LIMIT = 10**15
DATETIME_FORMATS = (
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d",
)


class CastFailed(ValueError):
    """A value could not be cast to its field's type."""


def normalize_cell(value: object) -> object:
    """Give both readers' cell values one shape: dates become midnight datetimes and
    integral floats become ints (openpyxl reads `7` as int, calamine as 7.0)."""
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


def parse_datetime_text(text: str) -> dt.datetime:
    """Parse the date formats operators type into the form; raise `CastFailed` otherwise."""
    if not text[:1].isdigit():  # every accepted format starts with a digit
        raise CastFailed(f"not a date and time: {text!r}")
    for fmt in DATETIME_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise CastFailed(f"not a date and time: {text!r}")


def _to_int(value: object) -> int:
    if isinstance(value, bool):
        raise CastFailed("a yes/no value is not a whole number")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if _INTEGER.fullmatch(text):
            return int(text)
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if math.isfinite(number) and number.is_integer():
            return int(number)
    raise CastFailed(f"not a whole number: {value!r}")


def _to_float(value: object) -> float:
    if isinstance(value, bool):
        raise CastFailed("a yes/no value is not a number")
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
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
        return parse_datetime_text(value.strip())
    raise CastFailed(f"not a date and time: {value!r}")


def _to_str(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return clean_text(value)
    return clean_text(str(value))


_CASTS = {"int": _to_int, "float": _to_float, "datetime": _to_datetime, "str": _to_str}


def coerce(value: object, value_type: str) -> tuple[object, str | None]:
    """Cast a normalized cell value to `value_type`: (value, None) or (None, why it failed)."""
    if value_type == "str":
        return _to_str(value), None
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None, None
    try:
        return _CASTS[value_type](value), None
    except CastFailed as exc:
        return None, str(exc)


def to_storage(value: object) -> object:
    """A field value as stored in `misc_json`: datetimes as UTC ISO-8601 text."""
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=CALIFORNIA)
        return aware.astimezone(dt.timezone.utc).isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return value
