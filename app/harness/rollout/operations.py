"""What a person does to a plan (through `harness rollout`): start, pause, resume, abort.

Each checks the plan's state, writes it and records a `Decision` with the person as
actor, in one store transaction. None of them moves the flag except `resume`, which
re-applies the current step (through the controller's next tick) and restarts its bake:
evidence gathered while someone else held the flag is not the step's evidence.
"""

from __future__ import annotations

import datetime as dt

from app.harness.rollout.errors import PlanStateError
from app.harness.rollout.plan import Plan
from app.harness.rollout.state import ABORTED, PAUSED, RUNNING, Decision, RolloutState


def start(store, flags, plan: Plan, now: dt.datetime, actor: str) -> RolloutState:
    """Persist a new plan; the controller applies its first step on its next tick."""
    state = flags.get(plan.flag)
    if state.killed:
        raise PlanStateError(plan.flag, f"{plan.flag} is killed ({state.kill_reason}); `harness flags resume "
                             f"{plan.flag}` first, if the cause is fixed")
    if state.percent > plan.steps[0]:
        raise PlanStateError(plan.flag, f"{plan.flag} is already at {state.percent:g}%, above the plan's first step "
                             f"({plan.steps[0]:g}%): start from a step at or above it (--steps)")
    return store.create(plan, now, actor)


def pause(store, flag: str, now: dt.datetime, actor: str, reason: str | None = None) -> RolloutState:
    """Stop the controller acting on the plan (the flag stays where it is)."""
    state = store.active(flag)
    if state.status == PAUSED:
        raise PlanStateError(flag, f"the plan on {flag} is already paused: {state.reason}")
    why = f"paused by {actor}" + (f": {reason}" if reason else "")
    new = state.evolve(status=PAUSED, reason=why, updated_at=now)
    store.save(new, Decision(flag, now, "pause", state.step_index, state.percent, why, actor, {}, state.id))
    return new


def resume(store, flags, flag: str, now: dt.datetime, actor: str) -> RolloutState:
    """Continue a paused plan: its current step is re-applied and baked again from now."""
    state = store.active(flag)
    if state.status != PAUSED:
        raise PlanStateError(flag, f"the plan on {flag} is {state.status}, not paused")
    current = flags.get(flag)
    if current.killed:
        raise PlanStateError(flag, f"{flag} is killed ({current.kill_reason}); lift the kill switch "
                             f"(`harness flags resume {flag}`) before resuming the plan, or abort it")
    why = f"resumed by {actor}: step {state.step_index + 1} ({state.percent:g}%) re-applied, its bake restarted"
    new = state.evolve(status=RUNNING, reason=None, step_started_at=None, flag_version=current.version,
                       baseline=None, latency_since=None, updated_at=now)
    store.save(new, Decision(flag, now, "resume", state.step_index, state.percent, why, actor,
                             {"flag_version": current.version, "flag_percent": current.percent}, state.id))
    return new


def abort(store, flag: str, now: dt.datetime, actor: str, reason: str) -> RolloutState:
    """End the plan for good; the flag is left as it is (kill it yourself to roll back)."""
    if not reason or not reason.strip():
        raise PlanStateError(flag, "abort needs a reason (--reason)")
    state = store.active(flag)
    why = f"aborted by {actor}: {reason.strip()}"
    new = state.evolve(status=ABORTED, reason=why, updated_at=now)
    store.save(new, Decision(flag, now, "abort", state.step_index, state.percent, why, actor, {}, state.id))
    return new
