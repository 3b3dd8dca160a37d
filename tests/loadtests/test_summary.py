"""The exact summary, the mix, the driver's run-time parsing, and Locust kept out of pytest."""

from __future__ import annotations

import random
import sys

import pytest

from loadtests import run, summary, workbooks
from loadtests.expectations import KINDS


def record(name, outcome, ms, step="upload", workflow="direct", kind="good", path="original", reason=""):
    return {"name": name, "workflow": workflow, "step": step, "kind": kind, "path": path, "outcome": outcome,
            "reason": reason, "ms": ms}


def test_percentiles_are_exact_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert summary.percentile(values, 50) == 50 and summary.percentile(values, 95) == 95
    assert summary.percentile(values, 99) == 99 and summary.percentile([7.0], 99) == 7.0
    assert summary.percentile([], 50) is None


def test_the_summary_counts_expected_errors_apart_from_failures():
    records = [record("/upload", "ok", 10), record("/upload", "expected_error", 20, kind="blank_id", reason="422 missing_id"),
               record("/upload_refactored", "failure", 30, path="refactored", reason="server error 500"),
               record("/review_staged/[id]/[file]", "ok", 5, step="review", workflow="staged", kind=None, path=None)]
    result = summary.summarise(records, duration_s=2.0, run={"host": "h"})
    assert result["totals"]["requests"] == 4 and result["totals"]["rps"] == 2.0
    assert (result["totals"]["ok"], result["totals"]["expected_errors"], result["totals"]["failures"]) == (2, 1, 1)
    assert result["unexpected_failures"] == 1
    assert result["failure_reasons"] == {"/upload_refactored: server error 500": 1}
    assert result["expected_errors"] == {"/upload: blank_id: 422 missing_id": 1}
    assert set(result["uploads_by_path"]) == {"original", "refactored"}  # review steps have no path
    assert result["by_workflow"]["staged"]["requests"] == 1
    assert result["by_name"]["/upload"]["p50_ms"] == 10 and result["by_name"]["/upload"]["p99_ms"] == 20
    text = summary.table(result)
    assert "TOTAL" in text and "FAIL x1: /upload_refactored: server error 500" in text


def test_the_mix_is_parsed_and_checked():
    assert workbooks.parse_mix("good=3, not_workbook=1") == {"good": 3.0, "bad": 0.0, "blank_id": 0.0, "not_workbook": 1.0}
    for bad in ("good", "pdf=1", "good=x", "good=-1", "good=0"):
        with pytest.raises(ValueError):
            workbooks.parse_mix(bad)


def test_the_pool_has_every_schema_and_the_picker_follows_the_mix():
    pool = workbooks.build_pool(per_schema=1, seed=3)
    assert set(pool) == set(KINDS)
    assert len({s.schema for s in pool["good"]}) == 6 and all(s.id_incidence for s in pool["bad"])
    assert all(s.id_incidence is None for s in pool["blank_id"] + pool["not_workbook"])
    picker = workbooks.Picker(pool, workbooks.parse_mix("blank_id=1"), random.Random(1))
    assert {picker.pick().kind for _ in range(20)} == {"blank_id"}


@pytest.mark.parametrize("text, seconds", [("90", 90), ("90s", 90), ("2m", 120), ("1h30m", 5400), ("1m30s", 90)])
def test_run_times_are_read_as_locust_reads_them(text, seconds):
    assert run.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "5x", "m"])
def test_a_bad_run_time_is_refused(text):
    with pytest.raises(ValueError, match="not a run time"):
        run.parse_duration(text)


def test_the_load_test_modules_used_here_do_not_import_locust_or_gevent():
    # Locust monkey-patches the standard library on import; pytest must never get it.
    assert "locust" not in sys.modules and "gevent" not in sys.modules
