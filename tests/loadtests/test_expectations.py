"""The load test's judgement of answers: expected refusals are not failures, the rest are."""

from __future__ import annotations

import pytest

from loadtests.expectations import (
    DIRECT, EXPECTED_ERROR, OK, STAGED, classify_confirm, classify_discard, classify_review, classify_upload,
    confirmable_keys, expected_upload,
)


def answer(path="refactored", route=DIRECT, ok=True, error_type=None, id_incidence=1234567, staged_filename=None):
    return {"ok": ok, "path": path, "route": route, "id_incidence": id_incidence, "sector": "Landfill",
            "staged_filename": staged_filename, "error_type": error_type, "error_code": None, "error_message": None,
            "warnings": [], "upload_id": 1}


@pytest.mark.parametrize("path", ["original", "refactored"])
@pytest.mark.parametrize("kind", ["good", "bad"])
def test_good_and_bad_values_workbooks_are_saved_on_both_paths(kind, path):
    verdict = classify_upload(kind, DIRECT, 200, answer(path), header_path=path, id_incidence=1234567)
    assert verdict.outcome == OK and verdict.path == path


def test_a_staged_workbook_answers_201_with_its_staged_file():
    body = answer("original", STAGED, staged_filename="id_1234567_ts_20261126_120000_000001.json")
    assert classify_upload("good", STAGED, 201, body, header_path="original").outcome == OK
    assert classify_upload("good", STAGED, 201, {**body, "staged_filename": None}, header_path="original").is_failure


@pytest.mark.parametrize("path", ["original", "refactored"])
def test_a_blank_id_is_an_expected_422_missing_id_on_both_paths(path):
    body = answer(path, ok=False, error_type="missing_id", id_incidence=None)
    verdict = classify_upload("blank_id", DIRECT, 422, body, header_path=path)
    assert verdict.outcome == EXPECTED_ERROR and verdict.reason == "422 missing_id"


@pytest.mark.parametrize("path, status, error_type", [("refactored", 415, "conversion_failed"), ("original", 422, "missing_id")])
def test_a_file_that_is_not_a_workbook_gets_each_paths_own_refusal(path, status, error_type):
    body = answer(path, ok=False, error_type=error_type, id_incidence=None)
    assert classify_upload("not_workbook", DIRECT, status, body, header_path=path).outcome == EXPECTED_ERROR


def test_the_original_paths_refusal_from_the_refactored_path_is_a_failure():
    body = answer("refactored", ok=False, error_type="missing_id", id_incidence=None)
    verdict = classify_upload("not_workbook", DIRECT, 422, body, header_path="refactored")
    assert verdict.is_failure and "expected 415 conversion_failed" in verdict.reason


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_server_error_is_a_failure_whatever_the_file(status):
    for kind in ("good", "bad", "blank_id", "not_workbook"):
        assert classify_upload(kind, DIRECT, status, None, header_path="original").is_failure


def test_no_answer_is_a_failure():
    verdict = classify_upload("good", DIRECT, 0, None, header_path=None, error="timeout: timed out")
    assert verdict.is_failure and "timed out" in verdict.reason


def test_a_refused_good_workbook_is_a_failure():
    body = answer("original", ok=False, error_type="missing_id")
    assert classify_upload("good", DIRECT, 422, body, header_path="original").is_failure


def test_an_accepted_blank_id_workbook_is_a_failure():
    assert classify_upload("blank_id", DIRECT, 200, answer("refactored"), header_path="refactored").is_failure


def test_a_pinned_endpoint_served_by_the_other_path_is_a_failure():
    verdict = classify_upload("good", DIRECT, 200, answer("original"), header_path="original", pinned_path="refactored")
    assert verdict.is_failure and "pinned to refactored" in verdict.reason


def test_a_routed_upload_must_name_its_path_in_header_and_body_alike():
    assert classify_upload("good", DIRECT, 200, answer("original"), header_path=None).is_failure
    assert classify_upload("good", DIRECT, 200, answer("original"), header_path="refactored").is_failure


def test_an_answer_for_another_incidence_is_a_failure():
    verdict = classify_upload("good", DIRECT, 200, answer(id_incidence=7), header_path="refactored", id_incidence=8)
    assert verdict.is_failure


def test_an_html_answer_is_a_failure():
    assert classify_upload("good", DIRECT, 200, None, header_path="refactored").is_failure


def test_a_confirm_that_lost_the_race_is_an_expected_409():
    assert classify_confirm(409, {"ok": False, "error_type": "conflict"}).outcome == EXPECTED_ERROR
    assert classify_confirm(200, {"ok": True, "applied": []}).outcome == OK


@pytest.mark.parametrize("status", [404, 422, 500, 503])
def test_any_other_confirm_answer_is_a_failure(status):
    assert classify_confirm(status, {"ok": False, "error_message": "x"}).is_failure


def test_review_and_discard_of_ones_own_staged_file_must_succeed():
    assert classify_review(200, {"fields": []}).outcome == OK
    assert classify_review(404, {"ok": False}).is_failure
    assert classify_review(200, {"ok": True}).is_failure
    assert classify_discard(200, {"ok": True}).outcome == OK
    assert classify_discard(404, {"ok": False}).is_failure


def test_only_confirmable_fields_are_confirmed():
    review = {"fields": [{"key": "a", "confirmable": True}, {"key": "b", "confirmable": False}, {"key": "c", "confirmable": True}]}
    assert confirmable_keys(review) == ["a", "c"]


def test_an_unknown_kind_of_file_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown kind"):
        expected_upload("spreadsheet", DIRECT, "original")
