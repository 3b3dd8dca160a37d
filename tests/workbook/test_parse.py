"""Parsing: every reference sample gives its expected result on either path (openpyxl with the
legacy's cell rules, the lean reader with the refactored path's)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from app.workbook.errors import CorruptWorkbook, UnreadableForm
from app.workbook.generator import generate_workbook, render_workbook
from app.workbook.parse import parse_workbook
from app.workbook import cells, legacy_cells
from app.workbook.lean import LeanReader
from app.workbook.readers import OpenpyxlReader
from app.forms import get_schema
from app.workbook import hostile
from tests.conftest import SHARED_FORMS, shared_forms

class Original:
    """openpyxl with the legacy's rules, as the original path reads."""

    def __init__(self, data: bytes) -> None:
        self.reader = OpenpyxlReader(data)


class Refactored:
    """The lean reader with the refactored rules, as the refactored path reads."""

    def __init__(self, data: bytes) -> None:
        self.reader = LeanReader(data)


RULES = {Original: legacy_cells.coerce, Refactored: cells.coerce}
READERS = [Original, Refactored]


def parse_with(path, data: bytes):
    """Parse `data` as the path `path` does."""
    return parse_workbook(path(data).reader, RULES[path])
SAMPLES = sorted(p.stem for p in (SHARED_FORMS / "samples").glob("*.xlsx")) or ["(no ../shared)"]


def _decode(obj):
    if isinstance(obj, dict):
        if obj.get("__type__") == "datetime.datetime":
            return dt.datetime.fromisoformat(obj["value"])
        return {k: _decode(v) for k, v in obj.items()}
    return obj


@pytest.mark.parametrize("reader", READERS, ids=["original", "refactored"])
@pytest.mark.parametrize("sample", SAMPLES)
def test_each_reference_sample_parses_to_its_expected_result(sample, reader):
    forms = shared_forms()
    expected = _decode(json.loads((forms / "expected" / f"{sample}.json").read_text()))["_data_"]
    parsed = parse_with(reader, (forms / "samples" / f"{sample}.xlsx").read_bytes())
    assert parsed.metadata == expected["metadata"]
    assert parsed.schemas == expected["schemas"]
    got = parsed.tab_contents["Feedback Form"]
    want = expected["tab_contents"]["Feedback Form"]
    assert list(got) == list(want)
    for key, value in want.items():
        assert got[key] == value and type(got[key]) is type(value), key


def test_the_reference_bad_data_sample_parses_with_warnings_not_errors():
    data = (shared_forms() / "samples" / "oil_and_gas_operator_feedback_v070_test_02_bad_data.xlsx").read_bytes()
    parsed = parse_with(Refactored, data)
    fields = {w.field for w in parsed.warnings}
    assert {"id_plume", "observation_timestamp", "lat_carb", "ogi_date"} <= fields
    assert parsed.form["id_incidence"] == 1002052


@pytest.mark.parametrize("reader", READERS, ids=["original", "refactored"])
def test_a_label_that_differs_from_the_schema_is_a_warning(reader):
    schema = get_schema("energy_v01_00")
    good = generate_workbook("energy_v01_00", seed=2)
    from openpyxl import load_workbook
    import io

    wb = load_workbook(io.BytesIO(good.data))
    wb["Feedback Form"][schema.field("contact_name").label_cell] = "Your name please"
    buffer = io.BytesIO()
    wb.save(buffer)
    parsed = parse_with(reader, buffer.getvalue())
    assert parsed.form == good.expected
    assert [w.field for w in parsed.warnings] == ["contact_name"]
    assert "Your name please" in parsed.warnings[0].message


@pytest.mark.parametrize("reader", READERS, ids=["original", "refactored"])
def test_formulas_are_read_as_their_cached_values(reader):
    forms = shared_forms()
    # The ARB templates hold formulas (e.g. the message id); cached values are what count.
    data = (forms / "samples" / "dairy_digester_operator_feedback_v006_test_01_good_data.xlsx").read_bytes()
    assert parse_with(reader, data).form["id_message"] == "2001-12001"


@pytest.mark.parametrize("reader", READERS, ids=["original", "refactored"])
def test_old_schema_aliases_are_read_with_the_current_schema(reader):
    good = generate_workbook("energy_v01_00", seed=4)
    data = render_workbook(get_schema("energy_v01_00"), good.written, schema_label="energy_v00_01")
    parsed = parse_with(reader, data)
    assert parsed.schemas == {"Feedback Form": "energy_v01_00"}
    assert parsed.form == good.expected


@pytest.mark.parametrize("reader", READERS, ids=["original", "refactored"])
def test_a_workbook_without_schema_sheet_is_not_a_feedback_form(reader):
    with pytest.raises(UnreadableForm) as err:
        parse_with(reader, hostile.without_schema_sheet())
    assert err.value.code == "no_schema_sheet"


@pytest.mark.parametrize("reader", READERS, ids=["original", "refactored"])
def test_an_unknown_schema_is_named_in_the_error(reader):
    with pytest.raises(UnreadableForm) as err:
        parse_with(reader, hostile.unknown_schema())
    assert err.value.code == "unknown_schema" and "landfill_v09_99" in err.value.message


@pytest.mark.parametrize("reader", READERS, ids=["original", "refactored"])
def test_readers_refuse_damaged_bytes_with_a_workbook_error(reader):
    with pytest.raises(CorruptWorkbook):
        reader(hostile.truncated()).reader


@pytest.mark.parametrize("reader", READERS, ids=["original", "refactored"])
def test_merged_and_empty_value_cells_read_as_blank(reader):
    import io
    from openpyxl import load_workbook

    good = generate_workbook("landfill_v01_01", seed=8)
    schema = get_schema("landfill_v01_01")
    wb = load_workbook(io.BytesIO(good.data))
    ws = wb["Feedback Form"]
    notes = schema.field("additional_notes").value_cell
    ws[notes] = "merged note"
    row = notes[1:]
    ws.merge_cells(f"D{row}:F{row}")
    ws[schema.field("instrument").value_cell] = None
    buffer = io.BytesIO()
    wb.save(buffer)
    parsed = parse_with(reader, buffer.getvalue())
    assert parsed.form["additional_notes"] == "merged note"
    assert parsed.form["instrument"] is None  # an empty cell, not an empty string
