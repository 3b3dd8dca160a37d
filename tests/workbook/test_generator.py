"""Generated workbooks: the real ARB layout, and they parse back to what was written."""

from __future__ import annotations

import io

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from app.cli import main
from app.forms import all_schemas, get_schema
from app.workbook.generator import VARIANTS, generate_workbook
from app.workbook.parse import parse_workbook
from app.workbook import cells, legacy_cells
from app.workbook.lean import LeanReader
from app.workbook.readers import OpenpyxlReader

SCHEMA_NAMES = [s.name for s in all_schemas()]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("schema", SCHEMA_NAMES)
def test_a_generated_workbook_parses_back_to_what_it_was_given(schema, variant):
    workbook = generate_workbook(schema, variant, seed=11)
    for reader, rules in ((OpenpyxlReader, legacy_cells.coerce), (LeanReader, cells.coerce)):
        parsed = parse_workbook(reader(workbook.data), rules)
        assert parsed.form == workbook.expected
        assert parsed.schemas == {"Feedback Form": schema}
        assert parsed.metadata == {"sector": get_schema(schema).sector}
        if variant == "good":
            assert parsed.warnings == ()


def test_given_values_are_written_exactly_and_the_rest_is_filled_in():
    values = {"facility_name": "Kern River Field ✓", "initial_leak_concentration": 12.25, "id_plume": 77}
    workbook = generate_workbook("oil_and_gas_v01_00", values=values, id_incidence=1002051, seed=1)
    parsed = parse_workbook(LeanReader(workbook.data))
    assert {k: parsed.form[k] for k in values} == values
    assert parsed.form["id_incidence"] == 1002051
    assert parsed.form["contact_email"].endswith("@example.com")


def test_variants_differ_as_documented():
    bad = generate_workbook("landfill_v01_00", "bad", seed=3)
    blank = generate_workbook("landfill_v01_00", "blank_id", seed=3)
    assert bad.expected["lat_carb"] is None and isinstance(bad.written["lat_carb"], str)
    assert bad.expected["emission_location"] == "Please Select"
    assert blank.id_incidence is None and blank.written["id_incidence"] is None


def test_the_layout_matches_the_real_forms():
    workbook = generate_workbook("dairy_digester_v01_00", seed=5)
    wb = load_workbook(io.BytesIO(workbook.data))
    assert wb["Feedback Form"].sheet_state == "visible"
    assert wb["_json_schema"].sheet_state == "veryHidden"
    assert wb["_json_metadata"].sheet_state == "veryHidden"
    assert (wb["_json_schema"]["B14"].value, wb["_json_schema"]["C14"].value) == ("Tab Name", "JSON Formatting Schema")
    assert (wb["_json_schema"]["B15"].value, wb["_json_schema"]["C15"].value) == ("Feedback Form", "dairy_digester_v01_00")
    assert wb["_json_metadata"]["B15"].value == "sector"
    schema = get_schema("dairy_digester_v01_00")
    assert wb["Feedback Form"][schema.field("contact_name").label_cell].value == schema.field("contact_name").label
    assert "jinja_id_incidence" in wb.defined_names
    assert wb.defined_names["jinja_id_incidence"].attr_text == "'Feedback Form'!$D$21"
    validations = wb["Feedback Form"].data_validations.dataValidation
    assert len(validations) == sum(1 for f in schema.fields if f.is_dropdown)


def test_unknown_variant_is_refused():
    with pytest.raises(ValueError, match="variant"):
        generate_workbook("energy_v01_00", "weird")


def test_the_harness_generate_command_writes_workbooks(tmp_path):
    result = CliRunner().invoke(main, ["generate", "--schema", "energy_v01_00", "--variant", "blank_id", "--count", "2",
                                       "--seed", "3", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    files = sorted(tmp_path.glob("*.xlsx"))
    assert [f.name for f in files] == ["energy_v01_00_blank_id_0001.xlsx", "energy_v01_00_blank_id_0002.xlsx"]
    assert parse_workbook(LeanReader(files[0].read_bytes())).form["id_incidence"] is None


def test_the_generate_command_names_unknown_schemas(tmp_path):
    result = CliRunner().invoke(main, ["generate", "--schema", "nope_v1", "--out", str(tmp_path)])
    assert result.exit_code != 0
    assert "nope_v1" in result.output and "oil_and_gas_v01_00" in result.output
