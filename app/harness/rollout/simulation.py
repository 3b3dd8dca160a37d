"""Synthetic upload streams for the controller: A/A rollouts and injected regressions, no sleeps.

`simulate(scenario, seed)` runs one plan from start to its end under a simulated clock:
every `tick_s` the clock moves on, uploads arrive (Poisson at `rate` per second), each
goes to the refactored path with the flag's current share (0 once killed), fails with its
path's server-error rate and takes a log-normal time; then the controller ticks. The
source answers the controller's window queries from these arrays exactly as the
database source does from `uploaded_files`. Used by the tests and `make bench`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from app.harness.rollout.controller import Controller
from app.harness.rollout.gates import PathCounts, Window
from app.harness.rollout.plan import Plan
from app.harness.rollout.store import MemoryStore
from flags import open_service

EPOCH = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Scenario:
    """One kind of rollout: traffic, paths' behaviour, a regression (or none), the plan."""

    rate: float = 5.0  # uploads per second on the route
    error_rate: float = 0.01  # both paths' server-error rate
    median_s: float = 0.100
    sigma: float = 0.35  # log-normal spread of durations
    regression_errors: float = 0.0  # added to refactored's error rate from the onset
    regression_latency: float = 1.0  # refactored's durations multiplied from the onset
    onset_step: int | None = None  # the regression starts when this step (0-based) is applied
    onset_after_s: float = 0.0  # ... or this long after (a regression that starts mid-bake)
    tick_s: float = 10.0
    prelude_s: float = 600.0  # original-only traffic before the plan (the latency baseline)
    plan: Plan = field(default_factory=lambda: Plan("refactored_upload", bake_s=600.0, min_uploads=200,
                                                    baseline_s=600.0))
    max_s: float = 6 * 3600.0


@dataclass(frozen=True)
class Run:
    """How one simulated rollout ended."""

    status: str
    ended_at_s: float
    onset_s: float | None
    detected_after_s: float | None  # rollback time minus onset
    reason: str
    decisions: int


class StreamSource:
    """A `Source` over in-memory arrays of (time, refactored?, server error?, duration)."""

    name = "simulation"

    def __init__(self) -> None:
        self.t = np.empty(0)
        self.ref = np.empty(0, dtype=bool)
        self.err = np.empty(0, dtype=bool)
        self.dur = np.empty(0)

    def add(self, t, ref, err, dur) -> None:
        """Append uploads."""
        self.t = np.concatenate([self.t, t])
        self.ref = np.concatenate([self.ref, ref])
        self.err = np.concatenate([self.err, err])
        self.dur = np.concatenate([self.dur, dur])

    @staticmethod
    def _s(when: dt.datetime) -> float:
        return (when - EPOCH).total_seconds()

    def window(self, route: str, start: dt.datetime, end: dt.datetime, *, threshold_s: float | None,
               latency_start: dt.datetime | None) -> Window:
        """Counts per path between start and end (timed / slow from latency_start)."""
        lo, hi = np.searchsorted(self.t, [self._s(start), self._s(end)])
        ref, err, dur, t = self.ref[lo:hi], self.err[lo:hi], self.dur[lo:hi], self.t[lo:hi]
        counts = {}
        for name, mask in (("original", ~ref), ("refactored", ref)):
            timed = slow = 0
            if threshold_s is not None and latency_start is not None:
                m = mask & (t >= self._s(latency_start))
                timed, slow = int(m.sum()), int((m & (dur > threshold_s)).sum())
            counts[name] = PathCounts(int(mask.sum()), int((mask & err).sum()), timed, slow)
        return Window(route, start, end, counts["original"], counts["refactored"], self.name, threshold_s, latency_start)

    def original_durations(self, route: str, start: dt.datetime, end: dt.datetime) -> np.ndarray:
        """Durations of original uploads between start and end."""
        lo, hi = np.searchsorted(self.t, [self._s(start), self._s(end)])
        return self.dur[lo:hi][~self.ref[lo:hi]]


def simulate(scenario: Scenario, seed: int) -> Run:
    """One rollout from start to end (completed, rolled back, or out of time)."""
    rng = np.random.default_rng(seed)
    plan = scenario.plan
    flags = open_service("memory://")
    store = MemoryStore()
    source = StreamSource()
    now = [EPOCH]
    controller = Controller(store, flags, source, lambda: now[0], holder="simulation")

    def traffic(start_s: float, seconds: float, share: float, regressed: bool) -> None:
        n = rng.poisson(scenario.rate * seconds)
        t = np.sort(start_s + rng.random(n) * seconds)
        ref = rng.random(n) < share
        p_err = np.where(ref & regressed, scenario.error_rate + scenario.regression_errors, scenario.error_rate)
        err = rng.random(n) < p_err
        dur = scenario.median_s * np.exp(scenario.sigma * rng.standard_normal(n))
        if regressed:
            dur = np.where(ref, dur * scenario.regression_latency, dur)
        source.add(t, ref, err, dur)

    traffic(-scenario.prelude_s, scenario.prelude_s, 0.0, False)
    store.create(plan, EPOCH, "simulation")
    onset = None
    elapsed = 0.0
    try:
        while elapsed < scenario.max_s:
            decisions = controller.tick()
            for decision in decisions:
                if decision.action == "step" and scenario.onset_step is not None and decision.step_index == scenario.onset_step:
                    onset = elapsed + scenario.onset_after_s
            state = store.latest(plan.flag)
            if not state.active:
                detected = (elapsed - onset if state.status == "rolled_back" and onset is not None and elapsed >= onset
                            else None)
                return Run(state.status, elapsed, onset, detected, state.reason or "", len(store.decisions(plan.flag, 10_000)))
            flag = flags.get(plan.flag)
            share = 0.0 if flag.killed else flag.percent / 100.0
            traffic(elapsed, scenario.tick_s, share, onset is not None and elapsed >= onset)
            elapsed += scenario.tick_s
            now[0] = EPOCH + dt.timedelta(seconds=elapsed)
        return Run("timeout", elapsed, onset, None, "simulation ran out of time", 0)
    finally:
        flags.close()


@dataclass(frozen=True)
class Summary:
    """Many runs of one scenario: how they ended and how fast a regression was caught."""

    runs: int
    completed: int
    rolled_back: int
    detected_within: int
    detection_s: tuple[float, ...]

    @property
    def median_s(self) -> float | None:
        """Median detection time."""
        return float(np.median(self.detection_s)) if self.detection_s else None

    @property
    def p99_s(self) -> float | None:
        """99th percentile detection time."""
        return float(np.quantile(self.detection_s, 0.99)) if self.detection_s else None


def summarise(scenario: Scenario, runs: int, within_s: float | None = None, seed: int = 0) -> Summary:
    """Run `runs` rollouts of the scenario with seeds seed..seed+runs-1."""
    results = [simulate(scenario, seed + i) for i in range(runs)]
    detection = tuple(r.detected_after_s for r in results if r.detected_after_s is not None)
    within = sum(1 for d in detection if within_s is None or d <= within_s)
    return Summary(runs, sum(r.status == "completed" for r in results), sum(r.status == "rolled_back" for r in results),
                   within, detection)
