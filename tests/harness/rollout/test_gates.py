"""The gates' verdicts on plain windows: pass needs data, a seen regression holds, a proven one fails."""

from __future__ import annotations

import datetime as dt

from app.harness.rollout.gates import PathCounts, Window, errors_gate, latency_baseline, latency_gate, shadow_gate, srm_gate

T = dt.datetime(2026, 12, 3, tzinfo=dt.UTC)


def window(o: PathCounts, r: PathCounts, **extra) -> Window:
    return Window("direct", T, T + dt.timedelta(minutes=5), o, r, "test", **extra)


def errors(o, r, min_uploads=20):
    return errors_gate(window(o, r), margin=0.05, tolerance=0.02, tau=0.15, alpha=0.005, min_uploads=min_uploads)


def test_no_data_is_short_not_pass():
    assert errors(PathCounts(), PathCounts()).verdict == "short"


def test_a_pass_needs_thirty_uploads_on_each_path_even_when_the_plan_asks_fewer():
    assert errors(PathCounts(25), PathCounts(34, 11)).verdict == "short"
    assert errors(PathCounts(300, 3), PathCounts(300, 4)).verdict == "pass"


def test_a_gap_seen_above_the_trigger_but_not_proven_holds_the_step():
    result = errors(PathCounts(40, 0), PathCounts(40, 4))
    assert result.verdict == "short" and "not yet surely" in result.reason


def test_a_proven_regression_fails_with_its_figures():
    result = errors(PathCounts(200, 2), PathCounts(200, 50))
    assert result.verdict == "fail"
    assert result.figures["difference_points"] == 24.0 and result.test.reject


def test_latency_is_tested_against_the_original_p95_from_the_baseline():
    baseline = latency_baseline([0.1 + i * 0.001 for i in range(200)], 1.2)
    assert baseline.n == 200 and 0.28 < baseline.threshold_s < 0.3
    slow = latency_gate(window(PathCounts(300, timed=300, slow=15), PathCounts(300, timed=300, slow=150)), baseline,
                        tau=0.15, alpha=0.005, min_uploads=50)
    assert slow.verdict == "fail" and slow.figures["threshold_ms"] > 280
    assert latency_gate(window(PathCounts(), PathCounts()), None, tau=0.15, alpha=0.005, min_uploads=50,
                        baseline_seen=12).reason.startswith("no latency threshold yet: 12/100")


def test_srm_counts_users_when_known():
    split = srm_gate(window(PathCounts(1000, users=150), PathCounts(2000, users=50)), 25, alpha=0.005, min_uploads=20)
    assert split.figures["unit"] == "users" and split.figures["observed_share"] == 0.25 and split.verdict == "pass"


def test_the_shadow_gate_is_off_without_shadow_runs_and_fails_over_budget():
    assert shadow_gate(window(PathCounts(500), PathCounts(500)), max_rate=0.01).verdict == "off"
    over = shadow_gate(window(PathCounts(500), PathCounts(500), mismatches=9, shadow_percent=50), max_rate=0.01)
    assert over.verdict == "fail" and over.figures["budget"] == 5.0
