"""The flag service on every store: rules, kill switch, rollback, propagation, audit log."""

from __future__ import annotations

import threading

import pytest

from flags import (
    ALL_FLAGS,
    REFACTORED_STAGED_UPLOAD,
    REFACTORED_UPLOAD,
    SHADOW_UPLOAD,
    EventType,
    FlagService,
    InvalidPercent,
    InvalidReason,
    InvalidUserId,
    InvalidValue,
    Reason,
    Source,
    UnknownFlag,
)

USERS = [f"user-{n}" for n in range(2000)]


def cohort(service: FlagService, flag: str = REFACTORED_UPLOAD) -> set[str]:
    return {user for user in USERS if service.is_enabled(flag, user)}


def test_the_four_flags_are_created_off_and_creating_again_changes_nothing(service, store, clock):
    assert [state.name for state in service.list_flags()] == list(ALL_FLAGS)
    assert all(state.percent == 0 and not state.killed for state in service.list_flags())
    service.set_percent(REFACTORED_UPLOAD, 25, actor="ops")
    restarted = FlagService(store, clock=clock)
    assert restarted.ensure_flags() == ()
    assert restarted.get(REFACTORED_UPLOAD).percent == 25
    assert [e.action for e in service.history(flag=REFACTORED_UPLOAD)] == ["percent", "create"]


def test_a_restart_on_a_new_connection_keeps_every_setting(service, open_twin, clock):
    service.set_percent(REFACTORED_UPLOAD, 40, actor="ops")
    service.allow(REFACTORED_UPLOAD, ["alice"], actor="ops")
    service.kill(REFACTORED_STAGED_UPLOAD, actor="ops", reason="bad diff")
    restarted = FlagService(open_twin(), clock=clock)
    restarted.ensure_flags()
    assert restarted.get(REFACTORED_UPLOAD).percent == 40
    assert restarted.get(REFACTORED_UPLOAD).allow == {"alice"}
    assert restarted.get(REFACTORED_STAGED_UPLOAD).killed
    assert cohort(restarted) == cohort(service)


def test_a_percentage_enables_that_share_of_users_and_the_decision_says_why(service):
    service.set_percent(REFACTORED_UPLOAD, 25, actor="ops")
    decisions = [service.decide(REFACTORED_UPLOAD, user) for user in USERS]
    on = [d for d in decisions if d.enabled]
    assert 0.21 * len(USERS) <= len(on) <= 0.29 * len(USERS)
    assert {d.reason for d in on} == {Reason.PERCENTAGE}
    assert {d.reason for d in decisions if not d.enabled} == {Reason.OFF}
    assert {d.path for d in on} == {"refactored"}
    assert all(d.source == Source.STORE for d in decisions)


def test_raising_the_percentage_keeps_every_user_already_on(service):
    service.set_percent(REFACTORED_UPLOAD, 25, actor="ops")
    at_25 = cohort(service)
    service.set_percent(REFACTORED_UPLOAD, 50, actor="ops")
    at_50 = cohort(service)
    service.set_percent(REFACTORED_UPLOAD, 10, actor="ops")
    assert at_25 < at_50
    assert cohort(service) < at_25


def test_user_1_and_user_string_1_get_the_same_decision(service):
    service.set_percent(REFACTORED_UPLOAD, 50, actor="ops")
    assert all(service.decide(REFACTORED_UPLOAD, n) == service.decide(REFACTORED_UPLOAD, str(n)) for n in range(300))


def test_deny_beats_allow_and_allow_beats_percentage(service):
    service.set_percent(REFACTORED_UPLOAD, 0, actor="ops")
    service.allow(REFACTORED_UPLOAD, ["alice", "bob"], actor="ops")
    service.deny(REFACTORED_UPLOAD, ["bob"], actor="ops")
    assert service.decide(REFACTORED_UPLOAD, "alice").reason == Reason.ALLOW_LIST
    assert service.decide(REFACTORED_UPLOAD, "bob").reason == Reason.DENY_LIST
    assert not service.is_enabled(REFACTORED_UPLOAD, "bob")
    service.undeny(REFACTORED_UPLOAD, ["bob"], actor="ops")
    service.unallow(REFACTORED_UPLOAD, ["alice"], actor="ops")
    assert service.decide(REFACTORED_UPLOAD, "bob").reason == Reason.ALLOW_LIST
    assert service.decide(REFACTORED_UPLOAD, "alice").reason == Reason.OFF


def test_the_kill_switch_turns_everyone_off_and_resume_brings_back_the_same_users(service):
    service.set_percent(REFACTORED_UPLOAD, 30, actor="ops")
    service.allow(REFACTORED_UPLOAD, ["vip"], actor="ops")
    before = cohort(service)
    service.kill(REFACTORED_UPLOAD, actor="ops", reason="error rate up")
    assert cohort(service) == set()
    assert service.decide(REFACTORED_UPLOAD, "vip").reason == Reason.KILL_SWITCH
    assert service.get(REFACTORED_UPLOAD).percent == 30
    service.resume(REFACTORED_UPLOAD, actor="ops")
    assert cohort(service) == before
    assert service.is_enabled(REFACTORED_UPLOAD, "vip")


def test_rollback_kills_every_refactored_flag_at_once_and_leaves_shadow_flags(service):
    for flag in ALL_FLAGS:
        service.set_percent(flag, 100, actor="ops")
    killed = service.rollback(actor="ops", reason="p95 latency")
    assert [state.name for state in killed] == [REFACTORED_UPLOAD, REFACTORED_STAGED_UPLOAD]
    assert all(state.killed and state.kill_reason == "rollback: p95 latency" for state in killed)
    assert not service.is_enabled(REFACTORED_UPLOAD, "u") and not service.is_enabled(REFACTORED_STAGED_UPLOAD, "u")
    assert service.is_enabled(SHADOW_UPLOAD, "u")
    entries = service.history(action="kill")
    assert {(e.flag, e.reason) for e in entries} == {
        (REFACTORED_UPLOAD, "rollback: p95 latency"),
        (REFACTORED_STAGED_UPLOAD, "rollback: p95 latency"),
    }


def test_a_kill_reaches_another_process_once_its_one_second_cache_expires(service, open_twin, clock):
    service.set_percent(REFACTORED_UPLOAD, 100, actor="ops")
    worker = FlagService(open_twin(), clock=clock)
    assert worker.decide(REFACTORED_UPLOAD, "u").enabled
    service.kill(REFACTORED_UPLOAD, actor="ops", reason="incident")
    assert not service.decide(REFACTORED_UPLOAD, "u").enabled  # the writer's own cache is invalidated
    clock.advance(worker.ttl - 0.01)
    assert worker.decide(REFACTORED_UPLOAD, "u").enabled  # still within its TTL
    clock.advance(0.02)
    assert worker.decide(REFACTORED_UPLOAD, "u").reason == Reason.KILL_SWITCH


def test_a_raising_listener_cannot_block_the_kill_switch(service):
    service.set_percent(REFACTORED_UPLOAD, 100, actor="ops")
    seen = []

    def veto(flag_name):
        raise RuntimeError("listener says no")

    service.events.on(EventType.PRE_DISABLE, veto)
    service.events.on(EventType.POST_DISABLE, veto)
    service.events.on(EventType.POST_DISABLE, seen.append)
    service.kill(REFACTORED_UPLOAD, actor="ops", reason="incident")
    assert service.get(REFACTORED_UPLOAD).killed
    assert not service.is_enabled(REFACTORED_UPLOAD, "u")
    assert seen == [REFACTORED_UPLOAD]  # listeners after the failing one still run


def test_every_change_is_in_the_audit_log_newest_first_with_actor_old_new_and_reason(service, clock):
    service.set_percent(REFACTORED_UPLOAD, 25, actor="alice", reason="week 1")
    clock.advance(60)
    service.allow(REFACTORED_UPLOAD, ["qa-1", "qa-2"], actor="bob")
    clock.advance(60)
    service.deny(REFACTORED_UPLOAD, ["ceo"], actor="bob")
    clock.advance(60)
    service.kill(REFACTORED_UPLOAD, actor="carol", reason="errors")
    clock.advance(60)
    service.resume(REFACTORED_UPLOAD, actor="carol", reason="fixed")
    entries = service.history(flag=REFACTORED_UPLOAD)
    assert [(e.action, e.actor, e.old, e.new, e.reason) for e in entries] == [
        ("resume", "carol", "killed", "active", "fixed"),
        ("kill", "carol", "active", "killed", "errors"),
        ("deny", "bob", [], ["ceo"], None),
        ("allow", "bob", [], ["qa-1", "qa-2"], None),
        ("percent", "alice", 0.0, 25.0, "week 1"),
        ("create", "system", None, {"percent": 0.0, "killed": False}, None),
    ]
    assert entries[0].at == clock.now()
    assert [e.action for e in service.history(actor="bob")] == ["deny", "allow"]
    assert [e.action for e in service.history(action="percent")] == ["percent"]
    assert [e.action for e in service.history(flag=REFACTORED_UPLOAD, since=clock.now())] == ["resume"]
    assert len(service.history(limit=2)) == 2


def test_a_change_that_changes_nothing_is_not_logged(service):
    service.set_percent(REFACTORED_UPLOAD, 25, actor="ops")
    service.set_percent(REFACTORED_UPLOAD, 25, actor="ops")
    service.unallow(REFACTORED_UPLOAD, ["nobody"], actor="ops")
    assert [e.action for e in service.history(flag=REFACTORED_UPLOAD)] == ["percent", "create"]


def test_concurrent_writers_on_separate_connections_lose_no_change(service, open_twin, clock):
    writers = [FlagService(open_twin(), clock=clock) for _ in range(3)]
    errors = []

    def add_users(index: int, writer: FlagService) -> None:
        try:
            for n in range(8):
                writer.allow(REFACTORED_UPLOAD, [f"w{index}-{n}"], actor=f"writer-{index}")
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=add_users, args=(i, w)) for i, w in enumerate(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(service.get(REFACTORED_UPLOAD).allow) == 24
    assert len(service.history(action="allow", limit=100)) == 24


def test_snapshot_reports_each_flags_percent_and_enabled_state_for_gauges(service):
    service.set_percent(REFACTORED_UPLOAD, 25, actor="ops")
    service.set_percent(SHADOW_UPLOAD, 10, actor="ops")
    service.kill(SHADOW_UPLOAD, actor="ops", reason="noise")
    snapshot = service.snapshot()
    assert snapshot.source == Source.STORE
    assert [s.name for s in snapshot.flags] == list(ALL_FLAGS)
    assert (snapshot.get(REFACTORED_UPLOAD).percent, snapshot.get(REFACTORED_UPLOAD).enabled) == (25, True)
    assert (snapshot.get(SHADOW_UPLOAD).killed, snapshot.get(SHADOW_UPLOAD).enabled) == (True, False)
    assert snapshot.get(REFACTORED_STAGED_UPLOAD).enabled is False  # 0% serves nobody


def test_operator_mistakes_raise_clear_errors_and_change_nothing(service):
    with pytest.raises(UnknownFlag, match="refactored_uplod"):
        service.set_percent("refactored_uplod", 10, actor="ops")
    with pytest.raises(InvalidPercent):
        service.set_percent(REFACTORED_UPLOAD, 101, actor="ops")
    with pytest.raises(InvalidReason):
        service.kill(REFACTORED_UPLOAD, actor="ops", reason="  ")
    with pytest.raises(InvalidReason):
        service.rollback(actor="ops", reason="")
    with pytest.raises(InvalidValue):
        service.set_percent(REFACTORED_UPLOAD, 10, actor="")
    with pytest.raises(InvalidUserId):
        service.allow(REFACTORED_UPLOAD, [], actor="ops")
    with pytest.raises(InvalidValue):
        service.history(action="explode")
    assert [e.action for e in service.history(flag=REFACTORED_UPLOAD)] == ["create"]


def test_an_unknown_flag_or_missing_user_decides_off_without_raising(service):
    service.set_percent(REFACTORED_UPLOAD, 50, actor="ops")
    assert service.decide("no_such_flag", "u").reason == Reason.OFF
    assert service.decide(REFACTORED_UPLOAD, None).reason == Reason.OFF
    assert service.decide(REFACTORED_UPLOAD, "").enabled is False


def test_flippers_own_client_reads_the_same_store(service, store):
    from flipper import FeatureFlagClient

    service.set_percent(REFACTORED_UPLOAD, 25, actor="ops")
    service.kill(SHADOW_UPLOAD, actor="ops", reason="x")
    client = FeatureFlagClient(store)
    assert client.exists(REFACTORED_UPLOAD)
    assert client.get_client_data(REFACTORED_UPLOAD)["percent"] == 25
    assert client.is_enabled(SHADOW_UPLOAD) is False  # a killed flag is a disabled flipper flag
    assert sorted(flag.name for flag in client.list()) == sorted(ALL_FLAGS)


def test_many_threads_deciding_while_the_cache_reloads_never_fail(store):
    # A real clock and a 1 ms TTL: reloads happen constantly while threads decide.
    service = FlagService(store, ttl=0.001, max_stale=5)
    service.ensure_flags()
    service.set_percent(REFACTORED_UPLOAD, 50, actor="ops")
    expected = {user: service.decide(REFACTORED_UPLOAD, user).enabled for user in USERS[:300]}
    problems = []

    def decide_many() -> None:
        for _ in range(3):
            for user, enabled in expected.items():
                decision = service.decide(REFACTORED_UPLOAD, user)
                if decision.enabled != enabled or decision.source != Source.STORE:
                    problems.append(decision)

    threads = [threading.Thread(target=decide_many) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert problems == []


def test_history_since_accepts_times_in_any_zone(service, clock):
    from datetime import timedelta, timezone

    clock.advance(3600)
    service.set_percent(REFACTORED_UPLOAD, 5, actor="ops")
    pacific = timezone(timedelta(hours=-8))
    just_before = (clock.now() - timedelta(seconds=1)).astimezone(pacific)
    assert [e.action for e in service.history(since=just_before)] == ["percent"]
    assert [e.action for e in service.history(since=just_before.replace(tzinfo=None) + timedelta(hours=8))] == ["percent"]
