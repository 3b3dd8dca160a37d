"""The rollout controller reading Prometheus (`harness rollout run --prometheus URL`) on the
stack: the source's windows against the real Prometheus scraping both instances, an
unreachable Prometheus holding the plan (every gate `short`, nothing advances), and a fault
on the refactored path rolled back by the controller reading only Prometheus, its
evidence naming `prometheus@URL`.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import pytest

from flags import REFACTORED_UPLOAD
from tests.stack.conftest import report
from tests.stack.controller_runs import FAULT, harness, run_controller_under_fault, traffic_for

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

UNREACHABLE = "http://127.0.0.1:18299"  # nothing listens there (this suite's own port range)
ROLLBACK_WAIT_S = 75


@pytest.fixture(scope="module")
def stack_portal_env() -> dict[str, str]:
    """A rehearsal stack; the portals' own controller threads off, so the test's process acts."""
    return {"HARNESS_ENV": "development", "HARNESS_FAULTS": "", "HARNESS_ROLLOUT_INTERVAL_S": "0"}


def _status(stack) -> dict:
    done = harness(stack, "rollout", "status", REFACTORED_UPLOAD, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)["plans"][0]


def test_windows_from_the_real_prometheus_match_what_was_sent(stack, good_samples):
    from app.harness.rollout.prometheus_source import PrometheusSource

    start = dt.datetime.now(dt.UTC)
    statuses = traffic_for(stack, good_samples, 8)
    time.sleep(12)  # two scrapes at 5 s
    end = dt.datetime.now(dt.UTC)
    source = PrometheusSource(stack.prometheus_url)
    window = source.window("direct", start - dt.timedelta(seconds=30), end, threshold_s=10.0,
                           latency_start=start - dt.timedelta(seconds=30))
    seen = window.original.uploads + window.refactored.uploads
    durations = source.original_durations("direct", start - dt.timedelta(seconds=30), end)
    report(f"prometheus window: {seen} uploads of {len(statuses)} sent (original {window.original.to_dict()}, "
           f"refactored {window.refactored.to_dict()}), {len(durations)} original durations from buckets")
    assert window.source == f"prometheus@{stack.prometheus_url}"
    # increase() extrapolates to the range's edges: near, not exact
    assert 0.8 * len(statuses) <= seen <= 1.3 * len(statuses)
    assert window.original.server_errors == window.refactored.server_errors == 0
    assert window.original.users is None
    assert window.original.timed + window.refactored.timed >= 0.8 * len(statuses)
    assert window.original.slow == window.refactored.slow == 0  # nothing took 10 s
    from app.harness.metrics import DURATION_BUCKETS

    assert durations and set(durations) <= set(DURATION_BUCKETS) | {DURATION_BUCKETS[-1] * 2}


def test_an_unreachable_prometheus_holds_the_plan_with_every_gate_short(stack, good_samples):
    started = harness(stack, "rollout", "start", REFACTORED_UPLOAD, "--steps", "50,100", "--bake", "1s",
                      "--min-uploads", "5", "--gates", "errors", "--rollback", "kill")
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        statuses = traffic_for(stack, good_samples, 2)
        ran = harness(stack, "rollout", "run", "--interval", "1", "--iterations", "4", "--prometheus", UNREACHABLE)
        assert ran.returncode == 0, ran.stdout + ran.stderr
        state = _status(stack)
        text = harness(stack, "rollout", "status", REFACTORED_UPLOAD).stdout
        report(f"unreachable prometheus after {len(statuses)} uploads: {text.strip()}")
        assert state["percent"] == 50 and state["status"] == "running", state
        assert "SHORT" in text and f"prometheus@{UNREACHABLE} (unreachable" in text, text
    finally:
        harness(stack, "rollout", "abort", REFACTORED_UPLOAD, "--reason", "test over")


def test_the_controller_reading_prometheus_kills_the_flag_when_the_refactored_path_fails(stack, good_samples):
    started = harness(stack, "rollout", "start", REFACTORED_UPLOAD, "--steps", "50,100", "--bake", "10m",
                      "--min-uploads", "20", "--gates", "errors", "--rollback", "kill")
    assert started.returncode == 0, started.stdout + started.stderr
    run = run_controller_under_fault(stack, good_samples, Path(stack.folder) / "logs" / "controller-prometheus.log",
                                     ROLLBACK_WAIT_S, "--prometheus", stack.prometheus_url)
    history = harness(stack, "rollout", "history", REFACTORED_UPLOAD, "--json")
    report(f"controller reading {stack.prometheus_url} killed {REFACTORED_UPLOAD} {run.waited_s:.0f} s after {FAULT} "
           f"({len(run.statuses)} uploads)")
    assert run.killed, f"the controller did not kill the flag within {ROLLBACK_WAIT_S} s; see {run.log}"
    assert f"gates from prometheus@{stack.prometheus_url}" in run.log.read_text()
    assert f"prometheus@{stack.prometheus_url}" in history.stdout, history.stdout
