"""Differential tests: the lean reader against openpyxl's full load, and the refactored path's
cell rules against the legacy's, on thousands of generated workbooks with random cell kinds.

The readers must agree on every cell, value and type alike. The two paths' stored values
must be equal for every field, or differ in a way one listed difference
(`app.ingest.parity.CELL_DIFFERENCES`) explains.
"""

from __future__ import annotations

import datetime as dt
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.forms import get_schema
from app.ingest.parity import ABSENT, CELL_DIFFERENCES
from app.workbook import cells, legacy_cells
from app.workbook.cells import to_storage
from app.workbook.lean import LeanReader
from app.workbook.parse import parse_workbook
from app.workbook.rawbook import KINDS, Cell, form_workbook, write_workbook
from app.workbook.readers import OpenpyxlReader

READER_EXAMPLES = 2000
RULE_EXAMPLES = 1000
COLUMNS = 5

# Text XML can carry (no surrogates, no control characters but tab and newline).
_xml_text = st.text(st.characters(blacklist_categories=("Cs", "Cc"), whitelist_characters="\t\n"), max_size=12)
_DATE_TEXTS = ("06/25/2024 00:00", "June 25, 2024 2:30 PM", "2024/06/25 14:30", "6/25/24", "25-Jun-2024 08:15",
               "2024-06-25T14:30:00Z", "2024-06-25 14:30 -04:00", "2024-06-25 14:30 UTC", "2024-06-25 14:30 PST",
               "43", "2:30 PM", "June 2024", "Monday", "yesterday", "12/31/9999 23:59", "0001-01-01", "1e5")
_NUMBER_TEXTS = ("47", " 47 ", "47.0", "12.7", "-3", "1_000", "1,234", "nan", "inf", "-Infinity", "1e400", "0x10",
                 "١٢", "", "  ")
_text = st.one_of(_xml_text, st.sampled_from(_DATE_TEXTS), st.sampled_from(_NUMBER_TEXTS),
                  st.text(alphabet="0123456789/-:. APMJunT", max_size=18))
_number = st.one_of(st.integers(-10**12, 10**12).map(str),
                    st.floats(allow_nan=False, allow_infinity=False, width=64).map(repr),
                    st.sampled_from(("1E3", "2.5e-3", "-0.0", "12.7")))
_serial = st.one_of(st.floats(0, 80_000, allow_nan=False).map(repr), st.integers(0, 80_000).map(str),
                    st.sampled_from(("0", "0.5", "59", "60", "61", "2958465.99")))


@st.composite
def cell(draw) -> Cell:
    """One cell of a random kind with text that kind can hold."""
    kind = draw(st.sampled_from(KINDS))
    if kind in ("shared", "rich_shared", "inline", "formula_str"):
        return Cell(kind, draw(_text))
    if kind == "number":
        return Cell(kind, draw(_number))
    if kind in ("date", "time"):
        return Cell(kind, draw(_serial))
    if kind == "bool":
        return Cell(kind, draw(st.sampled_from(("0", "1"))))
    if kind == "error":
        return Cell(kind, draw(st.sampled_from(("#N/A", "#DIV/0!", "#VALUE!", "#REF!"))))
    if kind == "iso_date":
        moment = draw(st.datetimes(dt.datetime(1900, 3, 1), dt.datetime(2100, 1, 1)))
        return Cell(kind, moment.isoformat(timespec=draw(st.sampled_from(("seconds", "minutes", "microseconds")))))
    return Cell(kind)


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return a == b and type(a) is type(b)


@settings(max_examples=READER_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.tuples(st.integers(1, 6), st.integers(1, COLUMNS)), cell(), max_size=10), st.booleans())
def test_the_lean_reader_reads_every_cell_as_openpyxl_does(grid, date1904):
    data = write_workbook({"S": grid}, date1904=date1904)
    expected = list(OpenpyxlReader(data).rows("S", 1, COLUMNS, normalized=False))
    got = list(LeanReader(data).rows("S", 1, COLUMNS, normalized=False))
    width = max(len(expected), len(got))
    expected += [(None,) * COLUMNS] * (width - len(expected))
    got += [(None,) * COLUMNS] * (width - len(got))
    for row, (want, have) in enumerate(zip(expected, got), start=1):
        for column, (a, b) in enumerate(zip(want, have), start=1):
            assert _same(a, b), f"row {row} column {column}: openpyxl {a!r}, lean {b!r} ({grid.get((row, column))})"


SCHEMA = get_schema("oil_and_gas_v01_00")
FIELDS = ("contact_name", "id_plume", "lat_carb", "observation_timestamp", "ogi_date", "final_repair_concentration")


def _stored(parsed) -> dict:
    return {k: to_storage(v) for k, v in parsed.form.items()}


@settings(max_examples=RULE_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.fixed_dictionaries({}, optional={name: cell() for name in FIELDS}))
def test_the_paths_store_the_same_or_a_listed_difference(values):
    data = form_workbook(SCHEMA, {"id_incidence": 77, **values})
    legacy = parse_workbook(OpenpyxlReader(data), legacy_cells.coerce)
    refactored = parse_workbook(LeanReader(data), cells.coerce)
    a, b = _stored(legacy), _stored(refactored)
    warned = {w.field for w in refactored.warnings}
    for name in FIELDS:
        x, y = a.get(name, ABSENT), b.get(name, ABSENT)
        if _same(x, y):
            continue
        rules = [d.name for d in CELL_DIFFERENCES if d.explains(x, y) and (not d.warned or name in warned)]
        assert rules, f"{name} from {values.get(name)}: legacy {x!r}, refactored {y!r}, no listed reason"
