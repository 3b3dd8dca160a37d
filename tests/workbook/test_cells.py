"""The refactored path's cell rules: stripping, casting, failed casts, datetimes and UTC storage
(the legacy's own rules are tests/workbook/test_legacy_cells.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from app.workbook.cells import clean_text, coerce, normalize_cell, parse_datetime_text, to_storage, CastFailed


@pytest.mark.parametrize("raw, value_type, expected", [
    ("  Dana Ochoa  ", "str", "Dana Ochoa"),
    ("", "str", ""),
    (True, "int", True),
    (12.0, "int", 12),
    (" 47 ", "int", 47),
    (True, "float", 1.0),
    (dt.datetime(2024, 6, 25), "str", "2024-06-25 00:00:00"),
    ("June 25, 2024 2:30 PM", "datetime", dt.datetime(2024, 6, 25, 14, 30)),
    ("2024/06/25 14:30", "datetime", dt.datetime(2024, 6, 25, 14, 30)),
    ("6/25/24", "datetime", dt.datetime(2024, 6, 25)),
    ("25-Jun-2024 08:15", "datetime", dt.datetime(2024, 6, 25, 8, 15)),
    ("  06/25/2024  ", "datetime", dt.datetime(2024, 6, 25)),
    (987654321, "str", "987654321"),
    ("", "float", None),
    ("47", "float", 47.0),
    (47, "float", 47.0),
    ("1002051", "int", 1002051),
    ("-119.5808", "float", -119.5808),
    ("06/25/2024 00:00", "datetime", dt.datetime(2024, 6, 25)),
    ("2025-07-11 13:20", "datetime", dt.datetime(2025, 7, 11, 13, 20)),
    (dt.datetime(2025, 7, 11, 10, 5), "datetime", dt.datetime(2025, 7, 11, 10, 5)),
    ("Please Select", "str", "Please Select"),
])
def test_values_are_cast_to_the_schema_type(raw, value_type, expected):
    value, failure = coerce(raw, value_type)
    assert failure is None
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize("raw, value_type", [
    ("asdf", "int"), ("   ", "int"), ("  ", "datetime"), ("12.5", "int"), ("47.0", "int"), (12.7, "int"), ("seventy-two point dog", "float"),
    ("nan", "float"), ("inf", "float"), ("-Infinity", "float"), ("1e400", "float"), ("yesterday", "datetime"),
    ("2025-June-15ish", "datetime"), ("06/AB/CD", "datetime"), ("20250733 77:77", "datetime"), (12.5, "datetime"),
    (45468, "datetime"), (dt.datetime(2024, 1, 1), "float"), ("43", "datetime"), ("June 2024", "datetime"),
    ("2:30 PM", "datetime"), (dt.time(14, 30), "datetime"),
])
def test_a_failed_cast_yields_null_and_says_why(raw, value_type):
    value, failure = coerce(raw, value_type)
    assert value is None
    assert failure


@pytest.mark.parametrize("value_type", ["str", "int", "float", "datetime"])
def test_an_empty_cell_stays_null_in_every_field_type(value_type):
    assert coerce(None, value_type) == (None, None)


def test_an_empty_string_is_empty_text_and_null_elsewhere():
    assert coerce("", "str") == ("", None)
    assert [coerce("", t) for t in ("int", "float", "datetime")] == [(None, None)] * 3


def test_a_date_with_a_time_zone_is_kept_and_stored_in_utc():
    value, failure = coerce("2024-06-25 14:30 -04:00", "datetime")
    assert failure is None and to_storage(value) == "2024-06-25T18:30:00+00:00"
    value, _ = coerce("2024-06-25T14:30:00Z", "datetime")
    assert to_storage(value) == "2024-06-25T14:30:00+00:00"


def test_an_unknown_zone_name_is_read_as_california_time():
    value, failure = coerce("2024-06-25 14:30 PDT", "datetime")
    assert failure is None and value == dt.datetime(2024, 6, 25, 14, 30) and value.tzinfo is None


def test_only_valid_utf8_text_is_kept():
    assert clean_text("  ok\x00\x07 \ud800text\t ") == "ok text"
    assert clean_text("café ✓ 💨") == "café ✓ 💨"


def test_both_readers_cell_values_are_normalised_alike():
    assert normalize_cell(7.0) == 7 and type(normalize_cell(7.0)) is int
    assert normalize_cell(7.5) == 7.5
    assert normalize_cell(dt.date(2025, 1, 2)) == dt.datetime(2025, 1, 2)
    assert normalize_cell("") is None
    assert normalize_cell(1e16) == 1e16 and type(normalize_cell(1e16)) is float


def test_unparseable_datetime_text_raises():
    with pytest.raises(CastFailed):
        parse_datetime_text("next Thursday at moonrise")


def test_naive_datetimes_are_california_time_stored_as_utc():
    assert to_storage(dt.datetime(2024, 6, 25, 0, 0)) == "2024-06-25T07:00:00+00:00"  # PDT, UTC-7
    assert to_storage(dt.datetime(2024, 12, 25, 9, 30)) == "2024-12-25T17:30:00+00:00"  # PST, UTC-8
    aware = dt.datetime(2024, 12, 25, 9, 30, tzinfo=dt.timezone.utc)
    assert to_storage(aware) == "2024-12-25T09:30:00+00:00"
    assert to_storage(dt.time(3, 4)) == "03:04:00"
    assert to_storage("text") == "text" and to_storage(None) is None
