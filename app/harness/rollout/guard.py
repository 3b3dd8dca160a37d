"""The kill-only guard on the rollout gates, for flags moved by hand (no plan).

For each route flag that is partly rolled out (0 < percent < 100), not killed and not
under an active plan (the controller guards those), it tests refactored against original
since the flag's last change (a change starts a new comparison) with the same sequential
errors and latency gates as the controller, and kills the flag as `rollback-guard` when
one fails. Never advances anything. `harness guard --gates` runs it every interval.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from app.harness.names import GUARD_ACTOR, ROUTE_FLAGS
from app.harness.rollout import gates as g
from app.harness.rollout.controller import evaluate
from app.harness.rollout.plan import Plan
from app.harness.rollout.state import RolloutState

log = logging.getLogger(__name__)


class GateGuard:
    """Kill a hand-rolled flag whose refactored path fails a sequential gate."""

    def __init__(self, flags, source, clock: Callable[[], dt.datetime], store=None, *, alpha: float = 0.05,
                 settle_s: float = 3.0, baseline_s: float = 3600.0) -> None:
        self.flags = flags
        self.source = source
        self.clock = clock
        self.store = store
        # Two sequential tests per flag (errors, latency): the plan's split gives each alpha / 2.
        self.alpha = alpha
        self.settle_s = settle_s
        self.baseline_s = baseline_s
        self._baselines: dict = {}

    def _planned(self) -> set[str]:
        if self.store is None:
            return set()
        return {state.flag for state in self.store.active_plans()}

    def tick(self) -> list[str]:
        """Evaluate every unplanned, partly rolled-out flag; returns what was killed and why."""
        now = self.clock()
        done = []
        planned = self._planned()
        for route, flag in ROUTE_FLAGS.items():
            state = self.flags.get(flag)
            if state.killed or not 0 < state.percent < 100 or flag in planned:
                continue
            since = state.updated_at or now
            since = since if since.tzinfo else since.replace(tzinfo=dt.UTC)
            start = since + dt.timedelta(seconds=self.settle_s)
            if now <= start:
                continue
            key = (flag, since)
            if key not in self._baselines:
                durations = self.source.original_durations(route, since - dt.timedelta(seconds=self.baseline_s), since)
                self._baselines = {key: g.latency_baseline(durations, 1.2)}
            baseline = self._baselines[key]
            plan = Plan(flag, steps=(state.percent, 100.0), gates=("errors", "latency"), alpha=self.alpha)
            window = self.source.window(route, start, now, threshold_s=baseline.threshold_s if baseline else None,
                                        latency_start=start if baseline else None)
            results = evaluate(RolloutState(plan=plan, baseline=baseline), window)
            failed = [r for r in results if r.verdict == g.FAIL]
            if failed:
                reason = "rollback guard (sequential gates): " + "; ".join(f"{r.gate}: {r.reason}" for r in failed)
                self.flags.kill(flag, actor=GUARD_ACTOR, reason=reason)
                log.warning("%s killed: %s", flag, reason)
                done.append(f"killed {flag}: {reason}")
        return done
