"""The verdict on simulated traffic: A/A rarely fails, injected regressions fail naming
their figure, too little traffic is inconclusive with what it needs, a broken split is caught."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from app.harness.analysis.compare import compare_route
from app.harness.analysis.evidence import Mismatch, PercentHistory
from app.harness.analysis.samples import samples_from_columns
from app.harness.analysis.simulate import PathBehaviour, Scenario, simulate
from app.harness.analysis.verdict import FAIL, INCONCLUSIVE, PASS, judge
from app.harness.analysis.window import Window


def run(scenario: Scenario, seed: int, mismatches=()):
    rng = np.random.default_rng(seed)
    columns = simulate(scenario, rng)
    samples = samples_from_columns(columns, scenario.start, scenario.start + scenario.seconds)[scenario.route]
    window = Window(dt.datetime.fromtimestamp(scenario.start, dt.timezone.utc),
                    dt.datetime.fromtimestamp(scenario.start + scenario.seconds, dt.timezone.utc))
    comparison = compare_route(samples, window, rng, percent=PercentHistory((), scenario.percent), mismatches=mismatches)
    return judge(comparison)


def test_an_aa_comparison_fails_in_at_most_one_percent_of_seeds():
    seeds = 200
    verdicts = [run(Scenario(1500, users=600), seed) for seed in range(seeds)]
    failed = [v for v in verdicts if v.verdict == FAIL]
    passed = sum(v.verdict == PASS for v in verdicts)
    print(f"A/A over {seeds} seeds: {len(failed)} fail ({len(failed) / seeds:.1%}), {passed} pass, "
          f"{seeds - len(failed) - passed} inconclusive; failing checks: "
          f"{[c.name for v in failed for c in v.checks if c.status == FAIL]}")
    assert len(failed) / seeds <= 0.01


@pytest.mark.parametrize("seed", range(5))
def test_a_ten_point_server_error_regression_fails_naming_it(seed):
    verdict = run(Scenario(3000, refactored=PathBehaviour(server_error_rate=0.11)), seed)
    assert verdict.verdict == FAIL
    check = verdict.check("server_errors")
    assert check.status == FAIL and "server-error rate" in check.reason and "up by more than 5 points" in check.reason
    assert any("server-error rate" in r for r in verdict.reasons)


@pytest.mark.parametrize("seed", range(5))
def test_fifty_percent_more_latency_fails_naming_p95(seed):
    verdict = run(Scenario(3000, refactored=PathBehaviour(median_seconds=0.075)), seed)
    assert verdict.verdict == FAIL
    assert verdict.check("latency_p95").status == FAIL
    assert "p95 latency" in verdict.check("latency_p95").reason and "1.20x" in verdict.check("latency_p95").reason


def test_too_little_traffic_is_inconclusive_and_says_how_much_more_is_needed():
    verdict = run(Scenario(24), 1)
    assert verdict.verdict == INCONCLUSIVE
    uploads = verdict.check("uploads")
    assert uploads.status == INCONCLUSIVE and uploads.more_uploads and uploads.more_uploads > 0
    assert all(c.status != FAIL for c in verdict.checks)
    assert any("too few uploads" in r for r in verdict.reasons)


def test_a_borderline_error_rate_is_inconclusive_with_an_estimate():
    verdict = run(Scenario(300, refactored=PathBehaviour(server_error_rate=0.06)), 2)
    check = verdict.check("server_errors")
    print(check.reason)
    if check.status == INCONCLUSIVE:
        assert check.more_uploads and "more uploads per path" in check.reason


@pytest.mark.parametrize("seed", range(3))
def test_a_skewed_split_is_caught(seed):
    verdict = run(Scenario(4000, users=3000, skew=0.1), seed)
    assert verdict.verdict == FAIL
    assert verdict.check("sample_ratio").status == FAIL and "sample ratio mismatch" in verdict.check("sample_ratio").reason


def test_shadow_mismatches_beyond_the_accepted_ones_fail_with_their_fields():
    start = Scenario(0).start
    mismatches = [Mismatch(start + i, "direct", "original", ({"field": "sector", "control": "Energy", "candidate": "Oil"},))
                  for i in range(4)]
    verdict = run(Scenario(2000), 3, mismatches)
    assert verdict.check("shadow").status == FAIL and "sector (4)" in verdict.check("shadow").reason
