"""The rollout controller: one `tick(now)` moves every active plan one decision forward.

Per running plan, per tick:

1. the flag changed since the controller last wrote it (a person, the guard)? pause;
2. the current step not applied yet? set its percent, fix the latency baseline: `step`;
3. at 100%: `complete` (no original traffic is left to compare with);
4. read the step's window (from `settle_s` after the change to now), evaluate the gates:
   a failing gate -> `rollback` (kill switch, or back to the previous percent, as the plan
   says); every gate passing with enough data and the bake time over -> next `step`;
   else `hold`, saying which gate is short of data.

Everything it decides is a `Decision` with its evidence, recorded in the store and, for
flag changes, in the flag audit log as actor `rollout-controller`. The store's lease makes
one controller act at a time; everything it needs is in the store, so a successor resumes.
Collaborators come in: the store, the flag service, the source of upload counts, a clock.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

from app.harness.names import ROLLOUT_ACTOR, ROLLOUT_ROLLBACK, SHADOW_FLAGS
from app.harness.rollout import gates as g
from app.harness.rollout.state import COMPLETED, PAUSED, ROLLED_BACK, RUNNING, Decision, RolloutState

log = logging.getLogger(__name__)
ROLLBACK_PREFIX = ROLLOUT_ROLLBACK


@dataclass(frozen=True)
class Judgement:
    """What the gates say about a step: the action, why, and each gate's result."""

    action: str  # rollback | step | hold
    reason: str
    results: tuple[g.GateResult, ...]


def judge(state: RolloutState, results: tuple[g.GateResult, ...], elapsed_s: float) -> Judgement:
    """The pure decision: any gate failing rolls back; all passing after the bake advances."""
    plan = state.plan
    failed = [r for r in results if r.verdict == g.FAIL]
    if failed:
        return Judgement("rollback", "; ".join(f"{r.gate} gate failed: {r.reason}" for r in failed), results)
    short = [r for r in results if r.verdict == g.SHORT]
    if elapsed_s < plan.bake_s:
        waiting = f"baking {elapsed_s:.0f}/{plan.bake_s:.0f} s"
        return Judgement("hold", waiting + ("; short of data: " + "; ".join(f"{r.gate}: {r.reason}" for r in short)
                                            if short else "; gates passing"), results)
    if short:
        return Judgement("hold", "bake over, short of data: " + "; ".join(f"{r.gate}: {r.reason}" for r in short), results)
    return Judgement("step", f"bake {plan.bake_s:.0f} s over and every gate passed", results)


def evaluate(state: RolloutState, window: g.Window, baseline_seen: int = 0, *, alpha: float | None = None,
             gates: tuple[str, ...] | None = None) -> tuple[g.GateResult, ...]:
    """Every gate of the plan (or `gates`) on one window; `alpha` for the errors and latency tests."""
    plan = state.plan
    test_alpha = plan.alpha_per_test / 2 if alpha is None else alpha
    results = []
    for gate in gates or plan.gates:
        if gate == "errors":
            results.append(g.errors_gate(window, margin=plan.error_margin, tolerance=plan.error_tolerance,
                                         tau=plan.tau_errors, alpha=test_alpha, min_uploads=plan.min_uploads))
        elif gate == "latency":
            results.append(g.latency_gate(window, state.baseline, tau=plan.tau_latency, alpha=test_alpha,
                                          min_uploads=plan.min_uploads, baseline_seen=baseline_seen))
        elif gate == "srm":
            results.append(g.srm_gate(window, state.percent, alpha=plan.alpha_per_test, min_uploads=plan.min_uploads))
        elif gate == "shadow":
            results.append(g.shadow_gate(window, max_rate=plan.shadow_max_rate))
    return tuple(results)


def _seconds(delta: dt.timedelta) -> float:
    return delta.total_seconds()


class Controller:
    """Ticks every active plan under the store's lease; `holder` names this controller."""

    def __init__(self, store, flags, source, clock: Callable[[], dt.datetime], *, holder: str,
                 lease_s: float = 30.0, on_decision: Callable[[Decision], None] | None = None) -> None:
        self.store = store
        self.flags = flags
        self.source = source
        self.clock = clock
        self.holder = holder
        self.lease_s = lease_s
        self.on_decision = on_decision

    def tick(self) -> list[Decision]:
        """One pass over the active plans, if this controller holds the lease."""
        now = self.clock()
        if not self.store.acquire_lease(self.holder, now, self.lease_s):
            return []
        decisions = []
        for state in self.store.active_plans():
            if state.status != RUNNING:
                continue
            try:
                decision = self._tick_plan(state, now)
            except Exception as exc:  # noqa: BLE001 - one plan's failure (store down) must not stop the others
                log.warning("rollout controller: plan on %s not ticked: %s", state.flag, exc)
                continue
            if decision is not None:
                decisions.append(decision)
        return decisions

    def release(self) -> None:
        """Give the lease up (a clean shutdown), so a successor acts at once."""
        self.store.release_lease(self.holder)

    # -- one plan -----------------------------------------------------------------------

    def _tick_plan(self, state: RolloutState, now: dt.datetime) -> Decision | None:
        plan = state.plan
        flag = self.flags.get(plan.flag)
        if state.flag_version is not None and flag.version != state.flag_version:
            return self._someone_changed(state, flag, now)
        if state.step_started_at is None:
            return self._apply_step(state, now, "plan started" if state.step_index == 0 and state.flag_version is None
                                    else "step applied")
        if state.percent >= 100:
            return self._finish(state, now, COMPLETED, "complete", "reached 100%: every user on the refactored path")
        start = state.step_started_at + dt.timedelta(seconds=plan.settle_s)
        if now <= start:
            return None
        state, seen = self._ensure_baseline(state, start, now)
        window = self.source.window(plan.route, start, now, threshold_s=state.baseline.threshold_s if state.baseline
                                    else None, latency_start=state.latency_since)
        shadow = self.flags.get(SHADOW_FLAGS[plan.route])
        window = g.Window(**{**window.__dict__, "shadow_percent": 0.0 if shadow.killed else shadow.percent})
        results = evaluate(state, window, seen)
        verdict = judge(state, results, _seconds(now - state.step_started_at))
        evidence = {"window": window.to_dict(), "gates": [r.to_dict() for r in results],
                    "baseline": state.baseline.to_dict() if state.baseline else None,
                    "alpha_per_test": plan.alpha_per_test}
        epoch = self._epoch(state, start, now) if verdict.action != "rollback" else None
        if epoch is not None:
            evidence["epoch"] = epoch["evidence"]
            if epoch["failed"]:
                return self._rollback(state, now, epoch["reason"], evidence)
        if verdict.action == "rollback":
            return self._rollback(state, now, verdict.reason, evidence)
        if verdict.action == "step":
            return self._advance(state, now, verdict.reason, evidence)
        return self._hold(state, now, verdict.reason, evidence)

    def _epoch(self, state: RolloutState, start: dt.datetime, now: dt.datetime) -> dict | None:
        """The errors and latency tests on the current epoch alone (a regression that starts
        late in a long bake is not diluted by hours of healthy data); None in the first epoch.

        Epoch k (k >= 1) tests at alpha / 2 x 6 / (pi^2 k^2): with the whole step's test at
        alpha / 2, the step's false-rollback chance stays within alpha whatever its length."""
        plan = state.plan
        k = int((now - start).total_seconds() // plan.epoch_s)
        wanted = tuple(gate for gate in plan.gates if gate in ("errors", "latency"))
        if k < 1 or not wanted:
            return None
        epoch_start = start + dt.timedelta(seconds=k * plan.epoch_s)
        latency_start = max(state.latency_since, epoch_start) if state.latency_since else None
        window = self.source.window(plan.route, epoch_start, now,
                                    threshold_s=state.baseline.threshold_s if state.baseline else None,
                                    latency_start=latency_start)
        alpha = plan.alpha_per_test / 2 * 6 / (math.pi ** 2 * k * k)
        results = evaluate(state, window, alpha=alpha, gates=wanted)
        failed = [r for r in results if r.verdict == g.FAIL]
        return {"failed": bool(failed),
                "reason": "; ".join(f"{r.gate} gate failed in epoch {k} (since {epoch_start:%H:%M:%S}): {r.reason}"
                                    for r in failed),
                "evidence": {"k": k, "alpha": alpha, "window": window.to_dict(),
                             "gates": [r.to_dict() for r in results]}}

    def _someone_changed(self, state: RolloutState, flag, now: dt.datetime) -> Decision | None:
        entries = self.flags.history(flag=state.flag, limit=5)
        if entries and entries[0].actor == ROLLOUT_ACTOR and not flag.killed:
            # Our own write whose state did not reach the store (it failed after the flag
            # change): adopt it if the flag is where the plan says; else stop and say so.
            if flag.percent == state.percent:
                self.store.save(state.evolve(flag_version=flag.version, updated_at=now), None)
                return None
        other = next((e for e in entries if e.actor != ROLLOUT_ACTOR), None)
        who = f"{other.actor} ({other.action}{': ' + other.reason if other.reason else ''})" if other else flag.updated_by
        reason = f"paused: the flag was changed outside the plan by {who}; `harness rollout resume {state.flag}` continues"
        decision = self._decision(state, now, "pause", reason, {"flag_version": flag.version,
                                                               "expected_version": state.flag_version,
                                                               "changed_by": other.actor if other else flag.updated_by})
        self.store.save(state.evolve(status=PAUSED, reason=reason, updated_at=now), decision)
        return self._emit(decision)

    def _apply_step(self, state: RolloutState, now: dt.datetime, why: str) -> Decision:
        plan = state.plan
        percent = state.percent
        written = self.flags.set_percent(plan.flag, percent, actor=ROLLOUT_ACTOR,
                                         reason=f"rollout step {state.step_index + 1}/{len(plan.steps)}: {percent:g}% ({why})")
        baseline = None
        if percent < 100:
            durations = self.source.original_durations(plan.route, now - dt.timedelta(seconds=plan.baseline_s), now)
            baseline = g.latency_baseline(durations, plan.latency_ratio)
        new = state.evolve(step_started_at=now, flag_version=written.version, baseline=baseline,
                           latency_since=now + dt.timedelta(seconds=plan.settle_s) if baseline else None,
                           reason=None, updated_at=now)
        decision = self._decision(new, now, "step", f"{percent:g}%: {why}",
                                  {"baseline": baseline.to_dict() if baseline else None, "flag_version": written.version})
        if percent >= 100:
            new = new.evolve(status=COMPLETED, reason="reached 100%")
        self.store.save(new, decision)
        return self._emit(decision)

    def _ensure_baseline(self, state: RolloutState, start: dt.datetime, now: dt.datetime) -> tuple[RolloutState, int]:
        """No baseline before the step (a quiet portal)? fix it from the step's first original uploads."""
        if state.baseline is not None or "latency" not in state.plan.gates:
            return state, 0
        durations = self.source.original_durations(state.plan.route, start, now)
        baseline = g.latency_baseline(durations, state.plan.latency_ratio)
        if baseline is None:
            return state, len(durations)
        state = state.evolve(baseline=baseline, latency_since=now, updated_at=now)
        self.store.save(state, None)
        return state, len(durations)

    def _rollback(self, state: RolloutState, now: dt.datetime, why: str, evidence: dict) -> Decision:
        plan = state.plan
        reason = f"{ROLLBACK_PREFIX} at step {state.step_index + 1} ({state.percent:g}%): {why}"
        if plan.rollback == "kill":
            self.flags.kill(plan.flag, actor=ROLLOUT_ACTOR, reason=reason)
            percent_after = 0.0
        else:
            percent_after = plan.steps[state.step_index - 1] if state.step_index > 0 else 0.0
            self.flags.set_percent(plan.flag, percent_after, actor=ROLLOUT_ACTOR, reason=reason)
        log.warning("rollout controller: %s", reason)
        return self._finish(state, now, ROLLED_BACK, "rollback", reason, evidence, percent_after)

    def _advance(self, state: RolloutState, now: dt.datetime, why: str, evidence: dict) -> Decision:
        if state.step_index + 1 >= len(state.plan.steps):
            return self._finish(state, now, COMPLETED, "complete", f"last step passed: {why}", evidence)
        # Record the passing evaluation, then apply the next step (its own decision).
        passed = self._decision(state, now, "pass", f"step {state.step_index + 1} passed: {why}", evidence)
        self.store.save(state.evolve(last_evaluation=_summary(passed), updated_at=now), passed)
        self._emit(passed)
        nxt = state.evolve(step_index=state.step_index + 1, step_started_at=None, baseline=None, latency_since=None)
        return self._apply_step(nxt, now, f"step {state.step_index + 1} passed")

    def _hold(self, state: RolloutState, now: dt.datetime, why: str, evidence: dict) -> Decision:
        decision = self._decision(state, now, "hold", why, evidence)
        previous = state.last_evaluation or {}
        changed = previous.get("verdicts") != _verdicts(evidence)
        # Every tick's evaluation is kept on the plan (status); history only when a verdict changes.
        self.store.save(state.evolve(last_evaluation=_summary(decision), updated_at=now), decision if changed else None)
        return self._emit(decision) if changed else decision

    def _finish(self, state: RolloutState, now: dt.datetime, status: str, action: str, why: str,
                evidence: dict | None = None, percent: float | None = None) -> Decision:
        decision = self._decision(state, now, action, why, evidence or {}, percent)
        self.store.save(state.evolve(status=status, reason=why, updated_at=now, last_evaluation=_summary(decision)), decision)
        return self._emit(decision)

    def _decision(self, state: RolloutState, now: dt.datetime, action: str, reason: str, evidence: dict,
                  percent: float | None = None) -> Decision:
        return Decision(flag=state.flag, at=now, action=action, step_index=state.step_index,
                        percent=state.percent if percent is None else percent, reason=reason, actor=ROLLOUT_ACTOR,
                        evidence=evidence, plan_id=state.id)

    def _emit(self, decision: Decision) -> Decision:
        if self.on_decision is not None:
            self.on_decision(decision)
        return decision


def _verdicts(evidence: dict) -> dict:
    return {gate["gate"]: gate["verdict"] for gate in evidence.get("gates", ())}


def _summary(decision: Decision) -> dict:
    return {"at": decision.at.isoformat(), "action": decision.action, "reason": decision.reason,
            "verdicts": _verdicts(decision.evidence), "evidence": decision.evidence}
