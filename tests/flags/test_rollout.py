"""The rollout rules on their own: normalised ids, exact sticky percentages, per-flag cohorts."""

from __future__ import annotations

import random
from bisect import bisect_left

import pytest

from flags import ALL_FLAGS, InvalidPercent, InvalidUserId, normalise_user_id, parse_percent
from flags.decision import Reason
from flags.rollout import SLOTS_PER_PERCENT, bucket, evaluate, is_in_rollout
from flags.state import FlagState

USERS = [f"user-{n}" for n in range(10_000)]


def enabled_count(flag: str, percent: float, users=USERS) -> int:
    return sum(is_in_rollout(flag, normalise_user_id(user), percent) for user in users)


@pytest.mark.parametrize("users", [USERS, list(range(10_000)), [f"{random.Random(7).getrandbits(64):x}{n}" for n in range(10_000)]])
@pytest.mark.parametrize("flag", ALL_FLAGS)
def test_every_setting_from_1_to_99_enables_that_share_of_10000_users_within_one_and_a_half_points(users, flag):
    # is_in_rollout(p) is bucket < p * SLOTS_PER_PERCENT, so one sort gives every count.
    buckets = sorted(bucket(flag, normalise_user_id(user)) for user in users)
    for percent in range(1, 100):
        count = bisect_left(buckets, percent * SLOTS_PER_PERCENT)
        assert abs(count - percent * 100) <= 150, (percent, count)
    assert enabled_count(flag, 25, users) == bisect_left(buckets, 25 * SLOTS_PER_PERCENT)


def test_zero_percent_enables_nobody_and_100_percent_everybody():
    assert enabled_count("refactored_upload", 0) == 0
    assert enabled_count("refactored_upload", 100) == 10_000


def test_fractional_percentages_are_honoured():
    count = enabled_count("shadow_upload", 12.5)
    assert abs(count - 1250) <= 150
    assert enabled_count("shadow_upload", 12.5) <= enabled_count("shadow_upload", 12.6)


def test_a_user_on_at_p_stays_on_at_every_higher_setting_and_off_users_stay_off_when_p_falls():
    settings = [0, 0.5, 1, 5, 10, 25, 33.3, 50, 75, 99, 99.99, 100]
    for user in USERS[:2000]:
        states = [is_in_rollout("refactored_upload", user, p) for p in settings]
        assert states == sorted(states), user  # False... then True...


def test_decisions_are_sticky_across_calls():
    first = [is_in_rollout("refactored_upload", user, 25) for user in USERS[:500]]
    assert first == [is_in_rollout("refactored_upload", user, 25) for user in USERS[:500]]


def test_two_flags_at_25_percent_pick_independent_cohorts():
    a = {u for u in USERS if is_in_rollout("refactored_upload", u, 25)}
    b = {u for u in USERS if is_in_rollout("refactored_staged_upload", u, 25)}
    overlap = len(a & b) / len(USERS)
    assert 0.05 <= overlap <= 0.075  # about 6.25%, not 25%


@pytest.mark.parametrize("same", [1, "1", " 1 ", 1.0, b"1"])
def test_integer_and_string_user_ids_are_the_same_user(same):
    assert normalise_user_id(same) == "1"


@pytest.mark.parametrize("bad", [None, True, False, "", "   ", 1.5, object(), b"\xff"])
def test_user_ids_that_cannot_be_normalised_are_refused(bad):
    with pytest.raises(InvalidUserId):
        normalise_user_id(bad)


@pytest.mark.parametrize("raw, expected", [(0, 0.0), (25, 25.0), ("50", 50.0), ("12.5", 12.5), ("12.5%", 12.5), (100, 100.0), ("0.0001", 0.0001)])
def test_percentages_from_0_to_100_are_accepted(raw, expected):
    assert parse_percent(raw) == expected


@pytest.mark.parametrize("bad", [-1, 100.01, "abc", "", float("nan"), float("inf"), True, None, "12.34567", [25]])
def test_percentages_outside_0_to_100_or_not_numbers_are_refused(bad):
    with pytest.raises(InvalidPercent):
        parse_percent(bad)


def test_rules_apply_kill_switch_then_deny_then_allow_then_percentage_then_off():
    state = FlagState("refactored_upload", percent=100, allow=frozenset({"a", "b"}), deny=frozenset({"b"}))
    assert evaluate(state, "a") == (True, Reason.ALLOW_LIST)
    assert evaluate(state, "b") == (False, Reason.DENY_LIST)
    assert evaluate(state, "c") == (True, Reason.PERCENTAGE)
    assert evaluate(state.evolve(percent=0), "c") == (False, Reason.OFF)
    assert evaluate(state.evolve(killed=True), "a") == (False, Reason.KILL_SWITCH)


def test_an_allow_list_combines_with_a_percentage():
    state = FlagState("refactored_upload", percent=25, allow=frozenset({"vip"}))
    on = [u for u in USERS if evaluate(state, u)[0]]
    assert "vip" not in USERS and evaluate(state, "vip") == (True, Reason.ALLOW_LIST)
    assert abs(len(on) - 2500) <= 150


def test_a_deny_list_combines_with_a_percentage():
    denied = frozenset(USERS[:100])
    state = FlagState("refactored_upload", percent=100, deny=denied)
    assert sum(evaluate(state, u)[0] for u in USERS) == 9_900


def test_a_request_without_a_usable_user_id_only_follows_the_kill_switch_and_100_percent():
    assert evaluate(FlagState("f", percent=99), None) == (False, Reason.OFF)
    assert evaluate(FlagState("f", percent=100), None) == (True, Reason.PERCENTAGE)
    assert evaluate(FlagState("f", percent=100, killed=True), None) == (False, Reason.KILL_SWITCH)
