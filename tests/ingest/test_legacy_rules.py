"""The legacy's cell rules, one generated workbook per rule, through both paths.

Each case writes one cell of an oil and gas form in an exact XML kind (`app.workbook.rawbook`)
and states by hand, from the legacy's rules (`../shared/domain.md`, `legacy_cells`), what
the legacy stores (the original path must store exactly that) and what the refactored path
stores: the same, or a listed difference (`app.ingest.parity.CELL_DIFFERENCES`) that must
be the one that explains it.
"""

from __future__ import annotations

import datetime as dt
import math

import pytest

from app.forms import get_schema
from app.ingest import original, refactored
from app.ingest.outcome import DIRECT, STAGED, Upload
from app.ingest.parity import ABSENT, explained_payload_keys, unexplained_differences
from app.workbook.inspection import Limits
from app.workbook.rawbook import Cell, form_workbook

SCHEMA = get_schema("oil_and_gas_v01_00")
ID = 4242
TEXT, WHOLE, NUMBER, DATE = "contact_name", "id_plume", "lat_carb", "observation_timestamp"
SAME = object()  # the refactored path stores what the legacy stores


def _today_at(year: int, hour: int = 0, minute: int = 0) -> str:
    """A date the legacy completes from today (dateutil's default), stored as UTC text."""
    from app.workbook.cells import to_storage

    today = dt.date.today()
    return to_storage(dt.datetime(year, today.month, today.day, hour, minute))


def shared(text: str) -> Cell:
    return Cell("shared", text)


# (case, field, cell, what the legacy stores, what the refactored path stores, the listed difference)
CASES = [
    # An empty cell and an empty string, in every field type.
    ("text: no cell", TEXT, None, None, SAME, None),
    ("text: styled empty cell", TEXT, Cell("styled_empty"), None, SAME, None),
    ("text: empty shared string", TEXT, shared(""), "", SAME, None),
    ("text: empty inline string", TEXT, Cell("inline", ""), "", SAME, None),
    ("text: formula cached as empty text", TEXT, Cell("formula_str", ""), None, SAME, None),
    ("whole number: no cell", WHOLE, None, None, SAME, None),
    ("whole number: styled empty cell", WHOLE, Cell("styled_empty"), None, SAME, None),
    ("whole number: empty string", WHOLE, shared(""), None, SAME, None),
    ("number: no cell", NUMBER, None, None, SAME, None),
    ("number: empty string", NUMBER, Cell("inline", ""), None, SAME, None),
    ("date: no cell", DATE, None, None, SAME, None),
    ("date: empty string", DATE, shared(""), None, SAME, None),
    # Text fields: stripped; other values as str() writes them.
    ("text: padded", TEXT, shared("  Dana Ochoa \t"), "Dana Ochoa", SAME, None),
    ("text: rich text runs", TEXT, Cell("rich_shared", "Dana Ochoa"), "Dana Ochoa", SAME, None),
    ("text: formula's cached text", TEXT, Cell("formula_str", " Dana "), "Dana", SAME, None),
    ("text: whole number", TEXT, Cell("number", "123"), "123", SAME, None),
    ("text: fraction", TEXT, Cell("number", "12.5"), "12.5", SAME, None),
    ("text: date cell", TEXT, Cell("date", "45468"), "2024-06-25 00:00:00", SAME, None),
    ("text: bool", TEXT, Cell("bool", "1"), "True", SAME, None),
    ("text: error cell", TEXT, Cell("error", "#N/A"), "#N/A", SAME, None),
    # Whole numbers: int() of the value.
    ("whole number: number", WHOLE, Cell("number", "47"), 47, SAME, None),
    ("whole number: digits", WHOLE, shared("47"), 47, SAME, None),
    ("whole number: padded digits", WHOLE, shared(" 47 "), 47, SAME, None),
    ("whole number: digits with .0", WHOLE, shared("47.0"), None, SAME, None),
    ("whole number: words", WHOLE, shared("about 32"), None, SAME, None),
    ("whole number: 1E3", WHOLE, Cell("number", "1E3"), 1000, SAME, None),
    ("whole number: bool", WHOLE, Cell("bool", "1"), True, SAME, None),
    ("whole number: date cell", WHOLE, Cell("date", "45468"), None, SAME, None),
    ("whole number: 12.7 truncated", WHOLE, Cell("number", "12.7"), 12, None, "truncated"),
    # Numbers: float() of the value.
    ("number: number", NUMBER, Cell("number", "-119.5808"), -119.5808, SAME, None),
    ("number: whole number", NUMBER, Cell("number", "47"), 47.0, SAME, None),
    ("number: digits", NUMBER, shared(" 47 "), 47.0, SAME, None),
    ("number: bool", NUMBER, Cell("bool", "1"), 1.0, SAME, None),
    ("number: thousands separator", NUMBER, shared("1,234"), None, SAME, None),
    ("number: nan", NUMBER, shared("nan"), math.nan, None, "not_finite"),
    ("number: inf", NUMBER, shared("inf"), math.inf, None, "not_finite"),
    ("number: -Infinity", NUMBER, Cell("inline", "-Infinity"), -math.inf, None, "not_finite"),
    # Dates: date cells kept; text through dateutil (month first); numbers dropped.
    ("date: date cell", DATE, Cell("date", "45468.604166666664"), "2024-06-25T21:30:00+00:00", SAME, None),
    ("date: ISO date cell", DATE, Cell("iso_date", "2024-06-25T14:30:00"), "2024-06-25T21:30:00+00:00", SAME, None),
    ("date: 06/25/2024 00:00", DATE, shared("06/25/2024 00:00"), "2024-06-25T07:00:00+00:00", SAME, None),
    ("date: June 25, 2024 2:30 PM", DATE, shared("June 25, 2024 2:30 PM"), "2024-06-25T21:30:00+00:00", SAME, None),
    ("date: 2024/06/25 14:30", DATE, shared("2024/06/25 14:30"), "2024-06-25T21:30:00+00:00", SAME, None),
    ("date: 6/25/24", DATE, shared("6/25/24"), "2024-06-25T07:00:00+00:00", SAME, None),
    ("date: 25-Jun-2024 08:15", DATE, Cell("inline", "25-Jun-2024 08:15"), "2024-06-25T15:15:00+00:00", SAME, None),
    ("date: winter time", DATE, shared("2024-12-25 09:30"), "2024-12-25T17:30:00+00:00", SAME, None),
    ("date: padded text", DATE, shared("  06/25/2024  "), "2024-06-25T07:00:00+00:00", SAME, None),
    ("date: words", DATE, shared("yesterday"), None, SAME, None),
    ("date: number in a date field", DATE, Cell("number", "45468"), None, SAME, None),
    ("date: bool", DATE, Cell("bool", "1"), None, SAME, None),
    ("date: time cell", DATE, Cell("time", "0.25"), None, SAME, None),
    ("date: '43' completed from today", DATE, shared("43"), _today_at(2043), None, "incomplete_date"),
    ("date: '2:30 PM' completed from today", DATE, shared("2:30 PM"), _today_at(dt.date.today().year, 14, 30),
     None, "incomplete_date"),
    ("date: offset skipped", DATE, shared("2024-06-25 14:30 -04:00"), ABSENT, "2024-06-25T18:30:00+00:00", "time_zone"),
    ("date: Z skipped", DATE, shared("2024-06-25T14:30:00Z"), ABSENT, "2024-06-25T14:30:00+00:00", "time_zone"),
    ("date: UTC skipped", DATE, shared("2024-06-25 14:30 UTC"), ABSENT, "2024-06-25T14:30:00+00:00", "time_zone"),
]
BASES = {
    "new incidence": lambda _id: None,
    "existing incidence": lambda _id: {"id_incidence": ID, DATE: "2020-01-01T08:00:00+00:00", TEXT: "Stored Name",
                                       WHOLE: 5, NUMBER: 36.5},
}


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return a == b and type(a) is type(b)


def _workbook(field: str, cell: Cell | None) -> bytes:
    values: dict[str, object] = {"id_incidence": ID}
    if cell is not None:
        values[field] = cell
    return form_workbook(SCHEMA, values)


@pytest.mark.parametrize("case, field, cell, legacy, refactored_value, rule", CASES, ids=[c[0] for c in CASES])
def test_each_legacy_rule_through_both_paths(case, field, cell, legacy, refactored_value, rule):
    upload = Upload(_workbook(field, cell), "legacy-rules.xlsx", "rules-user")
    for base_name, base in BASES.items():
        a = original.evaluate(Limits(), upload, DIRECT, base)
        b = refactored.evaluate(Limits(), upload, DIRECT, base)
        assert a.success and b.success, (a.error_message, b.error_message)
        stored_a, stored_b = a.payload.get(field, ABSENT), b.payload.get(field, ABSENT)
        assert _same(stored_a, legacy), f"original stores {stored_a!r}, the legacy {legacy!r}"
        want = legacy if refactored_value is SAME else refactored_value
        assert _same(stored_b, want), f"refactored stores {stored_b!r}, expected {want!r}"
        explained = explained_payload_keys(a, b)
        assert {k: d.name for k, d in explained.items()} == ({field: rule} if rule else {}), base_name
        assert unexplained_differences(a, b) == [], base_name
        if legacy is ABSENT and base_name == "existing incidence":  # the legacy keeps the stored value
            assert a.merged_misc_json[field] == BASES[base_name](ID)[field]


@pytest.mark.parametrize("written, id_incidence", [(shared("  42  "), 42), (Cell("number", "42"), 42),
                                                    (Cell("inline", "42"), 42)])
def test_padded_and_textual_ids_are_read_alike(written, id_incidence):
    upload = Upload(form_workbook(SCHEMA, {"id_incidence": written}), "ids.xlsx", "rules-user")
    for route in (DIRECT, STAGED):
        a = original.evaluate(Limits(), upload, route, lambda _id: None)
        b = refactored.evaluate(Limits(), upload, route, lambda _id: None)
        assert (a.success, a.id_incidence) == (b.success, b.id_incidence) == (True, id_incidence)
        assert unexplained_differences(a, b) == []


def test_a_fractional_id_is_refused_on_both_paths_and_only_the_truncated_payload_differs():
    upload = Upload(form_workbook(SCHEMA, {"id_incidence": Cell("number", "7.5")}), "ids.xlsx", "rules-user")
    a = original.evaluate(Limits(), upload, DIRECT, lambda _id: None)
    b = refactored.evaluate(Limits(), upload, DIRECT, lambda _id: None)
    assert not a.success and not b.success
    assert (a.payload["id_incidence"], b.payload["id_incidence"]) == (7, None)
    assert unexplained_differences(a, b) == []


def test_an_unexplained_cell_difference_is_reported():
    """The rules explain only their own case: a refactored path that dropped a plain number would show."""
    from dataclasses import replace

    upload = Upload(_workbook(NUMBER, Cell("number", "36.5")), "f.xlsx", "rules-user")
    a = original.evaluate(Limits(), upload, DIRECT, lambda _id: None)
    b = refactored.evaluate(Limits(), upload, DIRECT, lambda _id: None)
    broken = replace(b, payload={**b.payload, NUMBER: None})
    assert explained_payload_keys(a, broken) is None
    assert {d.field for d in unexplained_differences(a, broken)} == {"payload"}
    # a date dropped without the refactored path's warning is not an incomplete date
    c = original.evaluate(Limits(), Upload(_workbook(DATE, shared("06/25/2024")), "f.xlsx", "u"), DIRECT, lambda _id: None)
    d = refactored.evaluate(Limits(), Upload(_workbook(DATE, shared("06/25/2024")), "f.xlsx", "u"), DIRECT, lambda _id: None)
    assert explained_payload_keys(c, replace(d, payload={**d.payload, DATE: None})) is None


def test_nan_is_what_the_legacy_writes_and_the_refactored_path_stores_null(portal, database_url):
    """The legacy's NaN is not JSON: SQLite keeps the text, PostgreSQL's JSONB refuses it and the
    original upload fails as a database error; the refactored path stores null with a warning."""
    from sqlalchemy import select

    from app.ingest.models import Incidence

    data = _workbook(NUMBER, shared("nan"))
    a = original.process(portal.ingest, Upload(data, "nan.xlsx", "rules-user"), DIRECT)
    if database_url.startswith("sqlite"):
        assert a.success and math.isnan(a.payload[NUMBER])
    else:
        assert (a.success, a.error_type) == (False, "database_error")
    b = refactored.process(portal.ingest, Upload(data, "nan.xlsx", "rules-user"), DIRECT)
    assert b.success and b.payload[NUMBER] is None and any(w.field == NUMBER for w in b.warnings)
    with portal.db.session() as session:
        assert session.execute(select(Incidence).where(Incidence.id_incidence == ID)).scalar_one().misc_json[NUMBER] is None
