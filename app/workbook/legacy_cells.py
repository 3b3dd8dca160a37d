"""The legacy portal's cell rules, exactly (its `extract_tabs`), quirks included.

The original path parses with these; `cells` holds the refactored path's, which differ
only where `app/ingest/parity.py` says why. For each schema field the legacy took
`ws[value_address].value` (openpyxl, full load, `data_only=True`) and then:

1. a `str` value in a `str` field: made valid UTF-8, then stripped;
2. `None` stays `None` in every field type; a value already of the field's type is kept as
   it is (a bool counts as an int);
3. otherwise `""` becomes `None`; else it is cast: `datetime` fields take
   `dateutil.parser.parse(text)` for text and `None` for anything else; a parse with a
   time zone makes the legacy skip the field (no key at all: `SKIPPED`); other types call
   the type: `int("47")` = 47, `int(" 47 ")` = 47, `int("47.0")` fails, `int(12.7)` = 12,
   `float("nan")` = nan, `str(123)` = "123". A failed cast is `None` with a warning;
4. `dateutil` fills what the text leaves out from today's date (`"43"` -> 2043, today's
   month and day), and names of the server's own time zone make the result aware.
"""

from __future__ import annotations

import datetime as dt
import warnings

from dateutil import parser as dateutil_parser

from app.workbook.cells import SKIPPED

_TYPES = {"int": int, "float": float, "str": str, "datetime": dt.datetime}
# The warnings, worded as the refactored path words the same failures (both paths show them).
_FAILED = {"int": "not a whole number: {!r}", "float": "not a number: {!r}", "datetime": "not a date and time: {!r}"}


def _parse_date(text: str) -> object:
    with warnings.catch_warnings():
        # dateutil warns about zone names it does not know and returns a naive result.
        warnings.simplefilter("ignore", dateutil_parser.UnknownTimezoneWarning)
        parsed = dateutil_parser.parse(text)
    return SKIPPED if parsed.tzinfo is not None else parsed


def coerce(value: object, value_type: str) -> tuple[object, str | None]:
    """The legacy's value for a cell: (value or `SKIPPED`, None) or (None, why the cast failed)."""
    cast = _TYPES[value_type]
    if value_type == "str" and isinstance(value, str):
        return value.encode("utf-8", "ignore").decode("utf-8").strip(), None
    if value is None or isinstance(value, cast):
        return value, None
    if value == "":
        return None, None
    try:
        if value_type == "datetime":
            if not isinstance(value, str):
                return None, _FAILED[value_type].format(value)
            return _parse_date(value), None
        return cast(value), None
    except (ValueError, TypeError, OverflowError):
        return None, _FAILED[value_type].format(value)
