"""The runner: off the request thread, bounded, timed; altered candidates are caught."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest

from app.harness.shadowing import reviewed_rules
from app.ingest.outcome import DIRECT, Failure, Outcome
from shadow import IgnoreRule, Observation, ShadowRunner

CONTROL = Outcome("original", DIRECT, True, id_incidence=3, sector="Energy", payload={"facility_name": "Plant", "x": 1},
                  merged_misc_json={"facility_name": "Plant", "x": 1}, base_misc_json=None)


class Collect:
    """A publisher that keeps every result."""

    def __init__(self) -> None:
        self.results = []

    def __call__(self, result) -> None:
        self.results.append(result)


def _run(candidate, **options):
    published = Collect()
    runner = ShadowRunner(candidate, rules=reviewed_rules(), publishers=[published], **options)
    assert runner.submit(DIRECT, "u", Observation("original", CONTROL, None, 0.05), object(), None) is True
    assert runner.drain(10)
    runner.close()
    [result] = published.results
    return result


def test_an_identical_candidate_matches():
    result = _run(lambda path, route, upload, base: replace(CONTROL, path=path))
    assert result.kind == "match" and result.candidate.path == "refactored" and result.candidate.duration >= 0


@pytest.mark.parametrize("alteration, field", [
    (lambda o: replace(o, payload={**o.payload, "facility_name": "Other"}), "payload.facility_name"),
    (lambda o: replace(o, payload={**o.payload, "extra": True}), "payload.extra"),
    (lambda o: replace(o, success=False, error_type="validation_error", error_code="invalid_id", error_message="m"), "error_type"),
    (lambda o: replace(o, merged_misc_json={"facility_name": "Plant"}), "merged_misc_json.x"),
])
def test_a_deliberately_altered_candidate_is_caught_naming_the_field(alteration, field):
    result = _run(lambda path, route, upload, base: alteration(replace(CONTROL, path=path)))
    assert result.kind == "mismatch"
    assert field in result.fields


def test_a_candidate_that_raises_is_an_error_result_and_never_reaches_the_caller():
    errors = []

    def boom(path, route, upload, base):
        raise RuntimeError("candidate exploded")

    result = _run(boom, on_error=lambda op, exc: errors.append((op, str(exc))))
    assert result.kind == "error" and isinstance(result.candidate.exception, RuntimeError)
    assert errors == [("candidate", "candidate exploded")]


def test_a_candidate_past_its_timeout_is_published_as_timeout_while_it_still_runs():
    release = threading.Event()
    published = Collect()

    def stuck(path, route, upload, base):
        release.wait(10)
        return replace(CONTROL, path=path)

    runner = ShadowRunner(stuck, publishers=[published], timeout=0.2, workers=1, queue_size=0)
    runner.submit(DIRECT, "u", Observation("original", CONTROL, None, 0.05), object(), None)
    deadline = time.monotonic() + 5
    while not published.results and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [r.kind for r in published.results] == ["timeout"]
    assert "0.2 s" in str(published.results[0].candidate.exception)
    # the stuck run holds its slot: the next one is shed, not queued behind it
    assert runner.submit(DIRECT, "u", Observation("original", CONTROL, None, 0.05), object(), None) is False
    assert published.results[-1].kind == "skipped"
    release.set()
    assert runner.drain(5)
    assert [r.kind for r in published.results] == ["timeout", "skipped"]  # the late result is not published twice
    runner.close()


def test_the_queue_sheds_under_load_and_counts_the_skips():
    gate = threading.Event()
    published = Collect()

    def slow(path, route, upload, base):
        gate.wait(5)
        return replace(CONTROL, path=path)

    runner = ShadowRunner(slow, rules=reviewed_rules(), publishers=[published], workers=1, queue_size=2, timeout=30)
    started = time.perf_counter()
    accepted = [runner.submit(DIRECT, "u", Observation("original", CONTROL, None, 0.05), object(), None) for _ in range(10)]
    assert time.perf_counter() - started < 0.5  # submit never waits for the candidate
    assert accepted == [True, True, True] + [False] * 7
    gate.set()
    assert runner.drain(10)
    kinds = sorted(r.kind for r in published.results)
    assert kinds == ["match"] * 3 + ["skipped"] * 7
    runner.close()
    assert runner.submit(DIRECT, "u", Observation("original", CONTROL, None, 0.05), object(), None) is False


def test_a_failing_publisher_does_not_stop_the_others():
    errors, published = [], Collect()

    def broken(result):
        raise ValueError("publisher down")

    runner = ShadowRunner(lambda path, route, upload, base: replace(CONTROL, path=path), rules=reviewed_rules(), publishers=[broken, published],
                          on_error=lambda op, exc: errors.append(op))
    runner.submit(DIRECT, "u", Observation("original", CONTROL, None, 0.05), object(), None)
    assert runner.drain(5)
    runner.close()
    assert [r.kind for r in published.results] == ["match"] and errors == ["publish"]


def test_a_a_calibration_runs_the_control_path_again():
    runner = ShadowRunner(lambda *a: CONTROL, same_path=True)
    assert runner.candidate_path("original") == "original" and runner.candidate_path("refactored") == "refactored"
    runner.close()
    failure = Outcome.failed("original", DIRECT, Failure("missing_id", "missing_id", "m"))
    assert failure.success is False


def test_a_rule_that_raises_is_reported_through_the_error_hook_and_the_difference_stays_a_mismatch():
    errors, published = [], Collect()

    def broken(original, refactored):
        raise KeyError("a rule reading a field that is not there")

    rules = reviewed_rules().with_rule(IgnoreRule("payload", "a broken rule", broken))
    runner = ShadowRunner(lambda path, route, upload, base: replace(CONTROL, path=path, payload={"facility_name": "B", "x": 1}),
                          rules=rules, publishers=[published], on_error=lambda operation, error: errors.append(operation))
    assert runner.submit(DIRECT, "u", Observation("original", CONTROL, None, 0.05), object(), None)
    assert runner.drain(10)
    runner.close()
    [result] = published.results
    assert result.kind == "mismatch" and result.fields == ("payload.facility_name",)
    assert errors == ["ignore"]
