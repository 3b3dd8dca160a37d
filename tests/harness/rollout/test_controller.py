"""The controller on a real database: it steps, holds, rolls back with evidence, pauses
for a person, hands over under its lease, and a successor continues from the stored state."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import create_engine

from app.harness.metrics import FlagCollector
from app.harness.names import ROLLOUT_ACTOR
from app.harness.rollout import operations
from app.harness.rollout.controller import Controller
from app.harness.rollout.plan import Plan
from app.harness.rollout.source import DatabaseSource
from app.harness.rollout.store import SqlStore
from flags import open_service
from tests.harness.rollout.helpers import Clock, write_uploads


@pytest.fixture
def engine(database_url):
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def flags():
    service = open_service("memory://")
    service.ensure_flags()
    yield service
    service.close()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture(autouse=True)
def quiet(caplog):
    caplog.set_level(logging.ERROR, logger="app.harness.rollout.controller")


def controller(engine, flags, clock, holder="c1", lease_s=30.0):
    return Controller(SqlStore(engine), flags, DatabaseSource(engine), clock, holder=holder, lease_s=lease_s)


def plan(**changes):
    return Plan("refactored_upload", **{"bake_s": 120.0, "min_uploads": 50, "baseline_s": 600.0, **changes})


def start(engine, flags, clock, **changes):
    write_uploads(engine, clock.now - __import__("datetime").timedelta(seconds=600), 600, seed=99)  # the baseline
    return operations.start(SqlStore(engine), flags, plan(**changes), clock.now, "dana")


def run_step(engine, flags, clock, c, seconds, share, **traffic):
    """Traffic and ticks every 10 s for `seconds`; returns every decision made."""
    decisions = []
    for i in range(int(seconds // 10)):
        write_uploads(engine, clock.now, 10, share=share, seed=hash((clock.now, share)) % 2**32, **traffic)
        clock.advance(10)
        decisions += c.tick()
    return decisions


def test_a_healthy_plan_steps_through_every_percent_and_completes(engine, flags, clock):
    start(engine, flags, clock)
    c = controller(engine, flags, clock)
    assert [d.action for d in c.tick()] == ["step"] and flags.get("refactored_upload").percent == 25
    for share in (0.25, 0.5, 0.75):
        run_step(engine, flags, clock, c, 130, share)
    state = SqlStore(engine).latest("refactored_upload")
    assert state.status == "completed" and flags.get("refactored_upload").percent == 100
    actions = [d.action for d in reversed(SqlStore(engine).decisions("refactored_upload"))]
    assert actions[0] == "start" and actions[-1] == "step" and actions.count("pass") == 3
    audit = flags.history(flag="refactored_upload", action="percent")
    assert [e.new for e in reversed(audit)] == [25.0, 50.0, 75.0, 100.0]
    assert {e.actor for e in audit} == {ROLLOUT_ACTOR}


def test_no_data_is_not_health_the_plan_holds_and_says_so(engine, flags, clock):
    operations.start(SqlStore(engine), flags, plan(), clock.now, "dana")
    c = controller(engine, flags, clock)
    c.tick()
    clock.advance(600)
    c.tick()
    state = SqlStore(engine).latest("refactored_upload")
    assert state.status == "running" and state.percent == 25
    assert "short of data" in state.last_evaluation["reason"]
    assert state.last_evaluation["verdicts"]["errors"] == "short"


def test_a_server_error_regression_is_killed_with_its_evidence_and_counted_as_a_guard_rollback(engine, flags, clock):
    start(engine, flags, clock)
    c = controller(engine, flags, clock)
    c.tick()
    run_step(engine, flags, clock, c, 60, 0.25, error_rate=0.01, refactored_error_rate=0.4)
    state = SqlStore(engine).latest("refactored_upload")
    assert state.status == "rolled_back" and flags.get("refactored_upload").killed
    rollback = SqlStore(engine).decisions("refactored_upload", 1)[0]
    assert rollback.action == "rollback" and "errors gate failed" in rollback.reason
    errors = next(g for g in rollback.evidence["gates"] if g["gate"] == "errors")
    assert errors["verdict"] == "fail" and errors["test"]["log_lr"] >= errors["test"]["bound"]
    assert errors["samples"]["refactored"] > 0 and rollback.evidence["window"]["source"].startswith("uploaded_files@")
    kill = flags.history(flag="refactored_upload", action="kill")[0]
    assert kill.actor == ROLLOUT_ACTOR and "rollout rollback" in kill.reason
    rollbacks = {tuple(s.labels.values()): s.value for family in FlagCollector(lambda: flags).collect()
                 if family.name == "portal_rollbacks" for s in family.samples}
    assert rollbacks[("refactored_upload", "guard")] == 1


def test_step_back_mode_returns_to_the_previous_percent(engine, flags, clock):
    start(engine, flags, clock, rollback="step_back")
    c = controller(engine, flags, clock)
    c.tick()
    run_step(engine, flags, clock, c, 130, 0.25)
    assert flags.get("refactored_upload").percent == 50
    run_step(engine, flags, clock, c, 60, 0.5, latency=2.0)
    assert SqlStore(engine).latest("refactored_upload").status == "rolled_back"
    state = flags.get("refactored_upload")
    assert state.percent == 25 and not state.killed


def test_a_persons_change_to_the_flag_pauses_the_plan_and_resume_reapplies_the_step(engine, flags, clock):
    start(engine, flags, clock)
    c = controller(engine, flags, clock)
    c.tick()
    flags.set_percent("refactored_upload", 40, actor="alice", reason="testing by hand")
    decisions = run_step(engine, flags, clock, c, 10, 0.4)
    assert decisions[-1].action == "pause" and "alice" in decisions[-1].reason
    assert SqlStore(engine).latest("refactored_upload").status == "paused"
    run_step(engine, flags, clock, c, 30, 0.4)
    assert flags.get("refactored_upload").percent == 40  # paused: the controller leaves it alone
    operations.resume(SqlStore(engine), flags, "refactored_upload", clock.now, "alice")
    c.tick()
    assert flags.get("refactored_upload").percent == 25
    assert SqlStore(engine).latest("refactored_upload").status == "running"


def test_only_the_lease_holder_acts_and_a_successor_continues_when_it_lapses(engine, flags, clock):
    start(engine, flags, clock)
    first, second = controller(engine, flags, clock, "first"), controller(engine, flags, clock, "second")
    assert first.tick() and second.tick() == []
    run_step(engine, flags, clock, first, 130, 0.25)
    assert flags.get("refactored_upload").percent == 50
    # `first` dies without releasing; `second` waits out the lease, then carries on.
    assert second.tick() == []
    clock.advance(31)
    run_step(engine, flags, clock, second, 130, 0.5)
    assert flags.get("refactored_upload").percent == 75
    assert SqlStore(engine).lease()["holder"] == "second"
    assert first.tick() == []


def test_a_clean_release_hands_the_lease_over_at_once(engine, flags, clock):
    first, second = controller(engine, flags, clock, "first"), controller(engine, flags, clock, "second")
    first.tick()
    assert not SqlStore(engine).acquire_lease("second", clock.now, 30)
    first.release()
    assert SqlStore(engine).acquire_lease("second", clock.now, 30)


def test_pinned_uploads_do_not_count_in_the_split(engine, flags, clock):
    write_uploads(engine, clock.now, 60, share=1.0, pinned=True)
    window = DatabaseSource(engine).window("direct", clock.now, clock.advance(61), threshold_s=None, latency_start=None)
    assert window.refactored.uploads == 0 and window.original.uploads == 0


def test_the_kill_only_guard_uses_the_same_gates_on_a_flag_moved_by_hand(engine, flags, clock):
    from app.harness.names import GUARD_ACTOR
    from app.harness.rollout.guard import GateGuard

    write_uploads(engine, clock.now - __import__("datetime").timedelta(seconds=600), 600, seed=5)
    flags.set_percent("refactored_upload", 30, actor="alice")
    since = flags.get("refactored_upload").updated_at
    clock.now = since if since.tzinfo else since.replace(tzinfo=__import__("datetime").UTC)
    guard = GateGuard(flags, DatabaseSource(engine), clock, SqlStore(engine))
    for _ in range(3):  # healthy: nothing happens
        write_uploads(engine, clock.now, 10, share=0.3, seed=int(clock.now.timestamp()))
        clock.advance(10)
        assert guard.tick() == []
    for _ in range(12):
        write_uploads(engine, clock.now, 10, share=0.3, refactored_error_rate=0.4, seed=int(clock.now.timestamp()))
        clock.advance(10)
        if guard.tick():
            break
    state = flags.get("refactored_upload")
    assert state.killed and flags.history(flag="refactored_upload", action="kill")[0].actor == GUARD_ACTOR
    assert "errors" in state.kill_reason
