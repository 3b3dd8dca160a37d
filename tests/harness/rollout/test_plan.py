"""Plans refuse what cannot run, and split the false-rollback budget over their tests."""

from __future__ import annotations

import pytest

from app.harness.rollout.errors import PlanInvalid
from app.harness.rollout.plan import Plan, parse_duration, parse_steps


def test_a_default_plan_has_four_steps_and_splits_alpha_over_three_tested_steps_and_three_tests():
    plan = Plan("refactored_upload")
    assert plan.steps == (25, 50, 75, 100) and plan.route == "direct"
    assert plan.alpha_per_test == pytest.approx(0.05 / 9)
    assert Plan.from_dict(plan.to_dict()) == plan


@pytest.mark.parametrize(("changes", "message"), [
    ({"flag": "shadow_upload"}, "unknown flag"),
    ({"steps": (50, 25)}, "steps must increase"),
    ({"steps": (25, 25)}, "steps must increase"),
    ({"steps": (0, 50)}, "percents in (0, 100]"),
    ({"steps": ()}, "at least one step"),
    ({"gates": ("errors", "vibes")}, "unknown gate"),
    ({"rollback": "pray"}, "rollback must be"),
    ({"min_uploads": 0}, "at least 1"),
])
def test_a_plan_that_cannot_run_is_refused_with_the_reason(changes, message):
    with pytest.raises(PlanInvalid, match=message.replace("(", r"\(").replace(")", r"\)").replace("]", r"\]")):
        Plan(**{"flag": "refactored_upload", **changes})


def test_durations_and_steps_parse_as_an_operator_writes_them():
    assert parse_duration("2h") == 7200 and parse_duration("30m") == 1800 and parse_duration("45s") == 45
    assert parse_duration("90") == 90 and parse_duration("1.5d") == 129600
    with pytest.raises(PlanInvalid):
        parse_duration("soon")
    assert parse_steps("10, 20,100") == (10, 20, 100)
    with pytest.raises(PlanInvalid):
        parse_steps("10,twenty")
