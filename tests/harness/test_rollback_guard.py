"""The rollback guard: the roadmap's triggers applied to the portal's own metrics."""

from __future__ import annotations

import pytest

from app.harness.metrics import FlagCollector, Metrics, exposition
from app.harness.rollback_guard import (
    GUARD_ACTOR,
    PathTotals,
    RegressionGuard,
    Thresholds,
    parse_totals,
    quantile,
    run_once,
)
from app.ingest.outcome import DIRECT, STAGED, Failure, Outcome
from flags import MemoryFlagStore
from flags.service import FlagService

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, float("inf"))


def totals(t: float, original=(10, 0.0, 0.02), refactored=(10, 0.0, 0.02), route=DIRECT):
    """Cumulative totals after `t` seconds at (uploads per 10 s, server-error share, latency)."""
    def one(rate, error_share, latency):
        n = rate * t / 10
        return PathTotals(n, n * error_share, tuple((le, n if latency <= le else 0.0) for le in BUCKETS))
    return {(route, "original"): one(*original), (route, "refactored"): one(*refactored)}


def drive(guard, until: float, step: float = 30, **kw):
    triggered = []
    t = 0.0
    while t <= until:
        triggered += [(t, trig) for trig in guard.observe(t, totals(t, **kw))]
        t += step
    return triggered


def test_server_errors_five_points_higher_for_ten_minutes_roll_back_that_route():
    fired = drive(RegressionGuard(), 1200, refactored=(10, 0.08, 0.02), original=(10, 0.02, 0.02))
    assert fired, "expected a rollback"
    t, trigger = fired[0]
    assert trigger.route == "direct" and trigger.flag == "refactored_upload"
    assert 300 + 600 - 30 <= t <= 300 + 600 + 30  # a full window, then held for 10 minutes
    assert "8.0%" in trigger.reason and "2.0%" in trigger.reason


@pytest.mark.parametrize("case", ["equal paths", "4 points", "low traffic", "client errors only"])
def test_no_rollback_without_a_lasting_regression_on_enough_traffic(case):
    kw = {
        "equal paths": dict(refactored=(10, 0.02, 0.02), original=(10, 0.02, 0.02)),
        "4 points": dict(refactored=(10, 0.06, 0.02), original=(10, 0.02, 0.02)),
        "low traffic": dict(refactored=(0.5, 0.5, 0.02), original=(0.5, 0.0, 0.02)),
        "client errors only": dict(refactored=(10, 0.0, 0.02), original=(10, 0.0, 0.02)),
    }[case]
    assert drive(RegressionGuard(), 3600, **kw) == []


def test_a_brief_spike_does_not_roll_back():
    guard = RegressionGuard()
    fired = []
    errors = 0.0
    for t in range(0, 3600, 30):
        if 1200 <= t < 1380:  # three minutes in which half the refactored uploads fail
            errors += 15
        current = totals(t)
        refactored = current[(DIRECT, "refactored")]
        current[(DIRECT, "refactored")] = PathTotals(refactored.requests, errors, refactored.buckets)
        fired += guard.observe(t, current)
    assert fired == []


def test_p95_latency_over_1_2x_rolls_back_and_a_tiny_gap_does_not():
    slow = drive(RegressionGuard(), 1200, refactored=(10, 0.0, 0.6), original=(10, 0.0, 0.4))
    assert slow and "p95" in slow[0][1].reason
    tiny = drive(RegressionGuard(), 3600, refactored=(10, 0.0, 0.009), original=(10, 0.0, 0.004))
    assert tiny == []  # 2x, but under the 10 ms floor


def test_a_portal_restart_starts_the_window_anew():
    guard = RegressionGuard(Thresholds(window_s=60, hold_s=60))
    assert guard.observe(0, totals(0, refactored=(10, 0.5, 0.02))) == []
    guard.observe(100, totals(100, refactored=(10, 0.5, 0.02)))
    assert guard.observe(130, totals(5, refactored=(10, 0.5, 0.02))) == []  # counters went down
    assert not guard._since


def test_quantile_interpolates_like_prometheus():
    assert quantile(0.5, ((0.1, 50.0), (0.2, 100.0), (float("inf"), 100.0))) == pytest.approx(0.1)
    assert quantile(0.95, ((0.1, 0.0), (0.2, 100.0), (float("inf"), 100.0))) == pytest.approx(0.195)
    assert quantile(0.95, ()) is None


def test_the_guard_reads_real_expositions_and_kills_the_flag_as_the_guard():
    metrics = Metrics()
    flags = FlagService(MemoryFlagStore())
    flags.ensure_flags()
    flags.set_percent("refactored_staged_upload", 50, actor="ops")
    collector = FlagCollector(lambda: flags, ttl=0)
    guard = RegressionGuard(Thresholds(window_s=60, hold_s=60))
    done = []
    for t in range(0, 400, 30):
        for _ in range(20):
            metrics.observe_upload(Outcome("original", STAGED, True), 0.03)
            metrics.observe_upload(Outcome("refactored", STAGED, True), 0.02)
        for _ in range(4):
            metrics.observe_upload(Outcome.failed("refactored", STAGED, Failure("database_error", "database_unavailable", "x")), 0.02)
        text = exposition(metrics, collector).decode()
        done += run_once(guard, lambda: [text, text], flags, float(t))  # two instances, summed
    assert len(done) == 1 and done[0].startswith("killed refactored_staged_upload")
    assert flags.get("refactored_staged_upload").killed and flags.get("refactored_staged_upload").percent == 50
    assert flags.history(action="kill")[0].actor == GUARD_ACTOR
    assert flags.decide("refactored_staged_upload", "anyone").path == "original"
    text = exposition(metrics, collector).decode()
    assert 'portal_rollbacks_total{flag="refactored_staged_upload",trigger="guard"} 1.0' in text
    assert not flags.get("refactored_upload").killed  # only the regressed route


def test_an_unreachable_instance_never_rolls_anything_back():
    flags = FlagService(MemoryFlagStore())
    flags.ensure_flags()

    def down():
        raise OSError("connection refused")

    assert run_once(RegressionGuard(), down, flags, 0.0) == []
    assert parse_totals(["# nothing\n"]) == {}


def test_the_guard_command_runs_against_a_live_metrics_endpoint(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from app.cli import main

    monkeypatch.setenv("HARNESS_INSTANCE_PATH", str(tmp_path))
    result = CliRunner().invoke(main, ["guard", "--metrics-url", "http://127.0.0.1:1/metrics", "--iterations", "2",
                                       "--interval", "1"])
    assert result.exit_code == 0, result.output
    assert "rollback guard watching 1 instance(s)" in result.output
