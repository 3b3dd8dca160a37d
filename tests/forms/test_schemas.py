"""The six ARB form schemas and their old aliases, checked against the reference files."""

from __future__ import annotations

import json

import pytest

from app.forms import UnknownSchema, all_schemas, get_schema, resolve_schema_name
from tests.conftest import shared_forms

SCHEMAS = ("oil_and_gas_v01_00", "landfill_v01_00", "landfill_v01_01", "energy_v01_00", "dairy_digester_v01_00", "generic_v01_00")


def test_the_portal_knows_exactly_the_six_schemas_in_use():
    assert sorted(s.name for s in all_schemas()) == sorted(SCHEMAS)


@pytest.mark.parametrize("alias, current", [("energy_v00_01", "energy_v01_00"), ("generic_v00_01", "generic_v01_00")])
def test_old_schema_names_resolve_to_their_current_schema(alias, current):
    assert resolve_schema_name(alias) == current
    assert get_schema(alias).name == current


def test_an_unknown_schema_is_refused_by_name():
    with pytest.raises(UnknownSchema, match="landfill_v09_99"):
        get_schema("landfill_v09_99")


@pytest.mark.parametrize("name", SCHEMAS)
def test_every_form_starts_with_the_common_fields(name):
    fields = get_schema(name).field_names
    for common in ("id_incidence", "id_plume", "observation_timestamp", "lat_carb", "long_carb", "id_message",
                   "contact_name", "contact_phone", "contact_email", "additional_notes"):
        assert common in fields
    assert 25 <= len(fields) <= 60
    assert get_schema(name).field("id_incidence").value_type == "int"


@pytest.mark.parametrize("name", SCHEMAS)
def test_schema_cells_types_and_dropdowns_match_the_reference_schema(name):
    reference = json.loads((shared_forms() / "schemas" / f"{name}.json").read_text())["_data_"]
    schema = get_schema(name)
    assert schema.field_names == tuple(reference)
    for spec in schema.fields:
        ref = reference[spec.name]
        assert spec.label == ref["label"]
        assert spec.label_cell == ref["label_address"].replace("$", "")
        assert spec.value_cell == ref["value_address"].replace("$", "")
        assert spec.value_type == ref["value_type"]["__class__"]
        assert spec.is_dropdown == ref["is_drop_down"], spec.name
        if spec.is_dropdown:
            assert spec.choices and "Please Select" not in spec.choices


def test_dropdown_values_come_from_the_reference_lists():
    dropdowns = json.loads((shared_forms() / "dropdowns.json").read_text())["independent"]
    oil = get_schema("oil_and_gas_v01_00")
    assert oil.field("ogi_result").choices == tuple(dropdowns["ogi_result"])
    assert get_schema("dairy_digester_v01_00").field("able_to_repair").choices == ("Yes", "No")
