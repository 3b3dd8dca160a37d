"""The statistics agree with published worked examples."""

from __future__ import annotations

import numpy as np
import pytest

from app.harness.analysis.stats import bootstrap_latency, mann_whitney, newcombe, sample_ratio, wilson


def test_wilson_matches_newcombes_table():
    # Newcombe (1998), Statistics in Medicine 17:857, table I: 81/263 -> 0.2553 to 0.3662
    rate = wilson(81, 263)
    assert (round(rate.low, 4), round(rate.high, 4)) == (0.2553, 0.3662)
    assert wilson(0, 10).low == 0 and round(wilson(0, 10).high, 4) == 0.2775


def test_newcombes_hybrid_interval_matches_his_example():
    # Newcombe (1998), Statistics in Medicine 17:873, method 10: 56/70 - 48/80 -> 0.0524 to 0.3339
    d = newcombe(wilson(48, 80), wilson(56, 70))
    assert round(d.value, 4) == 0.2 and (round(d.low, 4), round(d.high, 4)) == (0.0524, 0.3339)


def test_the_bootstrap_interval_covers_the_quantile_and_shrinks_with_more_data():
    rng = np.random.default_rng(3)
    small = bootstrap_latency(rng.lognormal(0, 0.5, 200), rng.lognormal(0, 0.5, 200), rng)
    large = bootstrap_latency(rng.lognormal(0, 0.5, 50_000), rng.lognormal(0, 0.5, 50_000), rng)
    for c in (small, large):
        assert c.ratio[0.95].low < 1 < c.ratio[0.95].high
    assert large.ratio[0.95].high - large.ratio[0.95].low < small.ratio[0.95].high - small.ratio[0.95].low
    assert large.resampled == (5_000, 5_000)  # beyond the cap: an m-out-of-n bootstrap, rescaled


def test_mann_whitney_sees_a_shift_and_not_its_absence():
    rng = np.random.default_rng(4)
    a = rng.lognormal(0, 0.5, 2000)
    assert mann_whitney(a, a * 1.5).p < 1e-10 and mann_whitney(a, a * 1.5).slower_probability > 0.6
    assert mann_whitney(a, rng.lognormal(0, 0.5, 2000)).p > 0.001


def test_the_split_check_flags_a_skew_and_a_user_on_the_wrong_side_of_zero():
    assert sample_ratio(500, 500, np.full(1000, 0.5)).mismatch is False
    assert sample_ratio(430, 570, np.full(1000, 0.5)).mismatch is True
    assert sample_ratio(999, 1, np.zeros(1000)).mismatch is True  # at 0%, nobody may be on refactored
    assert sample_ratio(1000, 0, np.zeros(1000)).mismatch is False


@pytest.mark.parametrize("k, n", [(0, 0), (3, 0)])
def test_no_trials_give_no_interval(k, n):
    assert np.isnan(wilson(k, n).low)
