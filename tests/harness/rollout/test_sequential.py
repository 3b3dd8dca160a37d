"""The always-valid tests: their error rate holds however often they are looked at."""

from __future__ import annotations

import numpy as np

from app.harness.rollout.sequential import difference_test, ratio_test


def test_the_difference_test_checked_after_every_batch_keeps_false_rejections_under_alpha():
    rng = np.random.default_rng(7)
    alpha, runs, rejected = 0.05, 300, 0
    for _ in range(runs):
        # The null's boundary: refactored exactly `margin` worse, looked at 200 times.
        o = rng.random(4000) < 0.05
        r = rng.random(4000) < 0.07
        for n in range(20, 4001, 20):
            if difference_test(int(o[:n].sum()), n, int(r[:n].sum()), n, margin=0.02, tau=0.1, alpha=alpha).reject:
                rejected += 1
                break
    print(f"\nfalse rejections at the boundary: {rejected}/{runs} (alpha {alpha})")
    assert rejected <= alpha * runs


def test_the_difference_test_rejects_a_clear_regression_and_its_interval_covers_it():
    result = difference_test(10, 1000, 250, 1000, margin=0.02, tau=0.15, alpha=0.005)
    assert result.reject
    assert result.lower < 0.24 < result.upper
    assert result.log_lr > result.bound


def test_the_difference_test_never_rejects_when_refactored_is_better():
    assert not difference_test(200, 1000, 10, 1000, margin=0.02, tau=0.15, alpha=0.05).reject


def test_no_rejection_before_thirty_uploads_on_each_path():
    assert not difference_test(0, 29, 29, 29, margin=0.02, tau=0.15, alpha=0.05).reject


def test_the_ratio_test_accepts_the_promised_split_and_rejects_a_broken_one():
    assert not ratio_test(2510, 10_000, 0.25, alpha=0.005).reject
    mismatch = ratio_test(3000, 10_000, 0.25, alpha=0.005)
    assert mismatch.reject and abs(mismatch.estimate - 0.30) < 1e-9


def test_the_ratio_test_checked_often_keeps_false_rejections_under_alpha():
    rng = np.random.default_rng(11)
    alpha, runs, rejected = 0.05, 300, 0
    for _ in range(runs):
        ref = np.cumsum(rng.random(5000) < 0.5)
        if any(ratio_test(int(ref[n - 1]), n, 0.5, alpha=alpha).reject for n in range(50, 5001, 50)):
            rejected += 1
    print(f"\nSRM false rejections: {rejected}/{runs}")
    assert rejected <= alpha * runs
