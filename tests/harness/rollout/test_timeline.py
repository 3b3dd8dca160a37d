"""The rehearsal's timeline from plain data, its plot, the rehearsal's judgement, and the
controller thread of a portal worker."""

from __future__ import annotations

import datetime as dt
import time

from sqlalchemy import create_engine

from app.cli.rehearse import _judge
from app.harness.rollout import operations
from app.harness.rollout.plan import Plan
from app.harness.rollout.runner import ControllerThread, build_controller
from app.harness.rollout.state import Decision, RolloutState
from app.harness.rollout.store import SqlStore
from app.harness.rollout.timeline import build, plot
from flags import open_service

T0 = dt.datetime(2026, 12, 3, 12, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def decision(seconds, action, step, percent, reason="why"):
    return Decision("refactored_upload", at(seconds), action, step, percent, reason, "rollout-controller")


DECISIONS = [decision(0, "step", 0, 25.0), decision(30, "step", 1, 50.0),
             decision(45, "rollback", 1, 0.0, "rollout rollback at step 2 (50%): errors gate failed: ...")]


def test_the_timeline_follows_the_percent_and_the_per_path_error_rate(tmp_path):
    uploads = [(at(t), "refactored" if t % 2 else "original", t > 32 and t % 2 == 1, 0.05) for t in range(50)]
    timeline = build(T0, DECISIONS, [(at(10), {"errors": "short"}), (at(44), {"errors": "fail"})], uploads, at(31))
    assert timeline.percent == ((0.0, 0.0), (0.0, 25.0), (30.0, 50.0), (45.0, 0.0))
    assert timeline.error_rate["refactored"][0] == 0.0 and timeline.error_rate["refactored"][4] == 1.0
    assert timeline.gates["errors"] == ((10.0, "short"), (44.0, "fail")) and timeline.fault_at == 31.0
    svg = plot(timeline, tmp_path / "timeline.svg", "test")
    assert svg.read_text().startswith("<?xml")


def test_a_rehearsal_behaved_only_when_the_rollback_came_after_the_fault_at_its_step():
    state = RolloutState(plan=Plan("refactored_upload"), status="rolled_back")
    ok = {"state": state, "decisions": DECISIONS, "fault_at": at(31), "fault": "errors", "inject_at": 2}
    assert _judge(ok) == (True, [])
    early = {**ok, "fault_at": at(50)}
    assert not _judge(early)[0] and "false rollback" in _judge(early)[1][0]
    wrong_gate = {**ok, "fault": "latency"}
    assert "not by the latency gate" in _judge(wrong_gate)[1][0]
    never = {**ok, "state": state.evolve(status="completed"), "decisions": DECISIONS[:2], "fault_at": None}
    assert len(_judge(never)[1]) == 2


def test_a_workers_controller_thread_applies_the_step_and_releases_the_lease_on_stop(sqlite_url):
    engine = create_engine(sqlite_url)
    flags = open_service("memory://")
    operations.start(SqlStore(engine), flags, Plan("refactored_upload"), dt.datetime.now(dt.UTC), "dana")
    thread = ControllerThread(build_controller(engine, flags, kind="test", lease_s=5), 0.05).start()
    deadline = time.monotonic() + 10
    while flags.get("refactored_upload").percent != 25 and time.monotonic() < deadline:
        time.sleep(0.05)
    thread.stop()
    assert flags.get("refactored_upload").percent == 25
    assert SqlStore(engine).lease()["holder"] is None
    flags.close()
    engine.dispose()
