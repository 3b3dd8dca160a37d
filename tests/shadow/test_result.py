"""Comparing a control and a candidate: field-level differences, ignore rules, result kinds."""

from __future__ import annotations

from dataclasses import replace

from app.harness.shadowing import reviewed_rules
from app.ingest.outcome import DIRECT, Failure, FieldChange, Outcome
from app.ingest.parity import VOLATILE_FIELDS
from shadow import IgnoreRule, IgnoreRules, Observation, Result, diff, normalise

CONTROL = Outcome("original", DIRECT, True, id_incidence=7, sector="Energy",
                  payload={"id_incidence": 7, "facility_name": "Plant", "lat_carb": 35.1},
                  merged_misc_json={"id_incidence": 7, "facility_name": "Plant", "lat_carb": 35.1},
                  changes=(FieldChange("facility_name", None, "Plant"), FieldChange("lat_carb", None, 35.1)),
                  base_misc_json=None, upload_id=12, saved_filename="f_ts_1.xlsx")


def _result(candidate: Outcome, rules: IgnoreRules | None = None, control: Outcome = CONTROL) -> Result:
    return Result.compare(DIRECT, "u", Observation(control.path, control, None, 0.1),
                          Observation(candidate.path, candidate, None, 0.01), rules or reviewed_rules())


def test_volatile_values_are_removed_by_rule_and_only_those():
    data = normalise(CONTROL, VOLATILE_FIELDS)
    assert not {"path", "upload_id", "saved_filename", "staged_filename"} & set(data)
    assert data["changes"] == [["facility_name", None, "Plant"], ["lat_carb", None, 35.1]]
    assert {"success", "payload", "merged_misc_json", "base_misc_json", "warnings", "error_message"} <= set(data)


def test_the_same_outcome_from_the_other_path_matches():
    candidate = replace(CONTROL, path="refactored", upload_id=None, saved_filename=None)
    assert _result(candidate).kind == "match"


def test_a_changed_field_value_is_a_mismatch_naming_the_field():
    payload = {**CONTROL.payload, "facility_name": "Plant B"}
    candidate = replace(CONTROL, path="refactored", payload=payload)
    result = _result(candidate)
    assert result.kind == "mismatch"
    assert result.fields == ("payload.facility_name",)
    assert (result.mismatched[0].control, result.mismatched[0].candidate) == ("Plant", "Plant B")


def test_an_extra_field_and_a_different_change_are_named():
    candidate = replace(CONTROL, path="refactored", merged_misc_json={**CONTROL.merged_misc_json, "extra": 1},
                        changes=(FieldChange("facility_name", None, "Plant"),))
    assert set(_result(candidate).fields) == {"merged_misc_json.extra", "changes.lat_carb"}


def test_a_type_change_with_an_equal_value_is_a_mismatch():
    candidate = replace(CONTROL, path="refactored", payload={**CONTROL.payload, "lat_carb": "35.1"})
    assert _result(candidate).fields == ("payload.lat_carb",)
    same_number = replace(CONTROL, path="refactored", payload={**CONTROL.payload, "lat_carb": 35.1})
    assert _result(same_number).kind == "match"
    assert diff({"a": 1}, {"a": True}) and not diff({"a": 1}, {"a": 1.0})


def test_the_originals_coarse_error_is_ignored_with_its_reason():
    control = Outcome.failed("original", DIRECT, Failure("missing_id", "missing_id", "No valid incidence id"))
    candidate = Outcome.failed("refactored", DIRECT, Failure("conversion_failed", "not_a_workbook", "the file is a PDF"))
    result = _result(candidate, control=control)
    assert result.kind == "ignored"
    assert {d.field for d, _ in result.ignored} == {"error_type", "error_code", "error_message"}
    assert all("coarse" in reason or "missing_id" in reason for _, reason in result.ignored)


def test_a_changed_error_type_that_no_rule_accepts_is_a_mismatch():
    control = Outcome.failed("original", DIRECT, Failure("missing_id", "missing_id", "x"))
    candidate = Outcome.failed("refactored", DIRECT, Failure("database_error", "database_unavailable", "x"))
    assert "error_type" in _result(candidate, control=control).fields


def test_an_a_a_run_accepts_no_difference():
    control = Outcome.failed("original", DIRECT, Failure("missing_id", "missing_id", "x"))
    other = Outcome.failed("original", DIRECT, Failure("conversion_failed", "not_a_workbook", "y"))
    assert _result(other, control=control).kind == "mismatch"


def test_extra_rules_carry_their_reason():
    rules = IgnoreRules(volatile=VOLATILE_FIELDS).with_rule(IgnoreRule("sector", "sector names are being renamed", lambda o, r: True))
    candidate = replace(CONTROL, path="refactored", sector="Power")
    result = _result(candidate, rules)
    assert result.kind == "ignored" and result.ignored[0][1] == "sector names are being renamed"


def test_a_raising_candidate_is_an_error_and_a_late_one_a_timeout():
    control = Observation("original", CONTROL, None, 0.1)
    raised = Result.compare(DIRECT, "u", control, Observation("refactored", None, ValueError("boom"), 0.01), IgnoreRules())
    late = Result.compare(DIRECT, "u", control, Observation("refactored", CONTROL, None, 11.0, timed_out=True), IgnoreRules())
    assert (raised.kind, late.kind) == ("error", "timeout")
