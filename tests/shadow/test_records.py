"""Mismatch records: stored with both values (truncated), counted per field, readable."""

from __future__ import annotations

from dataclasses import replace

import pytest
from click.testing import CliRunner

from app.ingest.outcome import DIRECT, Outcome
from app.ingest.parity import VOLATILE_FIELDS
from shadow import IgnoreRules, MismatchStore, Observation, Result

CONTROL = Outcome("original", DIRECT, True, id_incidence=42, payload={"a": "x" * 2000, "b": 1})


def _mismatch(**payload) -> Result:
    candidate = replace(CONTROL, path="refactored", payload={**CONTROL.payload, **payload})
    return Result.compare(DIRECT, "dana", Observation("original", CONTROL, None, 0.1),
                          Observation("refactored", candidate, None, 0.01), IgnoreRules(volatile=VOLATILE_FIELDS))


@pytest.fixture
def store(database_url):
    mismatch_store = MismatchStore(database_url)
    yield mismatch_store
    mismatch_store.close()


def test_only_mismatches_are_stored_with_both_values_truncated(store):
    assert store.record(Result.compare(DIRECT, "u", Observation("original", CONTROL), Observation("refactored", CONTROL),
                                       IgnoreRules())) is None
    record_id = store.record(_mismatch(a="y" * 2000))
    record = store.get(record_id)
    assert (record.route, record.control_path, record.candidate_path, record.user, record.id_incidence) == (
        "direct", "original", "refactored", "dana", 42)
    [difference] = record.differences
    assert difference["field"] == "payload.a"
    assert difference["control"].startswith("xxx") and difference["control"].endswith("(2000 characters)")
    assert len(difference["candidate"]) < 600


def test_the_summary_counts_mismatches_per_field_most_frequent_first(store):
    store.record(_mismatch(b=2))
    store.record(_mismatch(b=3, c=1))
    store.record(_mismatch(c=2))
    summary = store.summary()
    assert summary["mismatches"] == 3
    assert summary["by_field"] == [{"field": "payload.b", "count": 2}, {"field": "payload.c", "count": 2}]
    assert [r.id for r in store.recent(2)] == sorted((r.id for r in store.recent(3)), reverse=True)[:2]
    assert store.summary("staged")["mismatches"] == 0
    assert store.get(99999) is None


def test_the_shadow_cli_reads_the_records(store, monkeypatch, tmp_path, database_url):
    from app.cli import main

    monkeypatch.setenv("HARNESS_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("HARNESS_DATABASE_URL", database_url)
    runner = CliRunner()
    assert "no mismatches recorded" in runner.invoke(main, ["shadow", "recent"]).output
    record_id = store.record(_mismatch(b=5))
    summary = runner.invoke(main, ["shadow", "summary"])
    assert summary.exit_code == 0 and "mismatches: 1" in summary.output and "payload.b" in summary.output
    assert "payload.b" in runner.invoke(main, ["shadow", "recent"]).output
    shown = runner.invoke(main, ["shadow", "show", str(record_id)])
    assert shown.exit_code == 0 and '"candidate": 5' in shown.output
    missing = runner.invoke(main, ["shadow", "show", "424242"])
    assert missing.exit_code != 0 and "no mismatch #424242" in missing.output
