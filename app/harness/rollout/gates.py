"""The rollout gates: each compares refactored against original on one route in one window.

| gate      | question                                                   | how                                   |
| --------- | ---------------------------------------------------------- | ------------------------------------- |
| `errors`  | is refactored's server-error rate > original's + 5 points? | mSPRT on the difference of rates (null: +2 points), and the observed gap over 5 |
| `latency` | is refactored's p95 > 1.2x original's?                     | mSPRT on the exceedance of original's p95 |
| `srm`     | does the split of users match the flag's percent?          | beta-binomial anytime-valid test      |
| `shadow`  | do shadow runs disagree beyond the accepted differences?   | a fixed budget of mismatches          |

Each returns a frozen `GateResult`: `pass`, `fail` or `short` (not enough data: no data
is not health), with its figures, its test statistic and its sample sizes. A failing
sequential test fails at once, whatever the sample size (it is valid at every n); a pass
needs `min_uploads` on each path (at least the test's own minimum, 30) and the observed
difference within the trigger: a gap seen above it but not yet proven holds the step.

The latency gate turns p95 into a proportion: with T the original path's p95 over the
baseline before the step, a refactored path as fast as the original has 5% of uploads
slower than T, and one exactly `latency_ratio` slower has the share of baseline uploads for
which ratio x duration > T. The gate tests whether refactored's share above T exceeds
original's (in the same window) by more than that difference (`margin`, at least 2 points).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from app.harness.rollout.sequential import MIN_N, SequentialResult, difference_test, ratio_test

PASS, FAIL, SHORT, OFF = "pass", "fail", "short", "off"
BASELINE_MIN = 100  # original durations needed to fix the latency threshold
MIN_LATENCY_MARGIN = 0.02


@dataclass(frozen=True)
class PathCounts:
    """One path's uploads in a window: outcomes, and durations against the threshold."""

    uploads: int = 0
    server_errors: int = 0
    timed: int = 0  # uploads with a duration, counted since the latency threshold was fixed
    slow: int = 0  # of those, slower than the threshold
    users: int | None = None  # distinct users the percentage rollout sent here (None: count uploads)

    @property
    def split_units(self) -> int:
        """What the sample-ratio test counts: users when known (uploads of one user are not independent)."""
        return self.uploads if self.users is None else self.users

    def to_dict(self) -> dict:
        """JSON-ready."""
        return {"uploads": self.uploads, "server_errors": self.server_errors, "timed": self.timed, "slow": self.slow,
                "users": self.users}


@dataclass(frozen=True)
class Window:
    """What the source read for one route between `start` and `end`."""

    route: str
    start: dt.datetime
    end: dt.datetime
    original: PathCounts
    refactored: PathCounts
    source: str
    threshold_s: float | None = None
    latency_start: dt.datetime | None = None
    mismatches: int = 0
    shadow_percent: float = 0.0

    def to_dict(self) -> dict:
        """JSON-ready, for evidence."""
        return {"route": self.route, "start": self.start.isoformat(), "end": self.end.isoformat(),
                "source": self.source, "original": self.original.to_dict(), "refactored": self.refactored.to_dict(),
                "threshold_s": self.threshold_s,
                "latency_start": self.latency_start.isoformat() if self.latency_start else None,
                "mismatches": self.mismatches, "shadow_percent": self.shadow_percent}


@dataclass(frozen=True)
class LatencyBaseline:
    """The latency gate's fixed threshold (original p95) and margin, from baseline durations."""

    threshold_s: float
    margin: float
    n: int

    def to_dict(self) -> dict:
        """JSON-ready."""
        return {"threshold_s": self.threshold_s, "margin": self.margin, "n": self.n}


def latency_baseline(durations, ratio: float) -> LatencyBaseline | None:
    """Original p95 and the exceedance margin a path `ratio` slower would add; None when short."""
    values = np.asarray(list(durations), dtype=float)
    if values.size < BASELINE_MIN:
        return None
    threshold = float(np.quantile(values, 0.95))
    margin = float(np.mean(values * ratio > threshold) - np.mean(values > threshold))
    return LatencyBaseline(threshold, max(MIN_LATENCY_MARGIN, margin), int(values.size))


@dataclass(frozen=True)
class GateResult:
    """One gate's verdict on one window, with everything it was decided from."""

    gate: str
    verdict: str
    reason: str
    figures: dict = field(default_factory=dict)
    test: SequentialResult | None = None
    samples: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready, for evidence."""
        return {"gate": self.gate, "verdict": self.verdict, "reason": self.reason, "figures": self.figures,
                "test": self.test.to_dict() if self.test else None, "samples": self.samples}


def _samples(window: Window, attr: str = "uploads") -> dict:
    return {"original": getattr(window.original, attr), "refactored": getattr(window.refactored, attr)}


def errors_gate(window: Window, *, margin: float, tolerance: float, tau: float, alpha: float,
                min_uploads: int) -> GateResult:
    """Server-error rate: fails when refactored is surely worse than `tolerance` and seen worse than `margin`."""
    o, r = window.original, window.refactored
    samples = _samples(window)
    if min(o.uploads, r.uploads) == 0:
        return GateResult("errors", SHORT, f"no data: {o.uploads} original, {r.uploads} refactored uploads", {}, None, samples)
    test = difference_test(o.server_errors, o.uploads, r.server_errors, r.uploads, margin=tolerance, tau=tau, alpha=alpha)
    rate_o, rate_r = o.server_errors / o.uploads, r.server_errors / r.uploads
    figures = {"original_rate": round(rate_o, 5), "refactored_rate": round(rate_r, 5),
               "difference_points": round((rate_r - rate_o) * 100, 2), "margin_points": margin * 100,
               "tolerance_points": tolerance * 100, "alpha": alpha}
    text = (f"server errors refactored {rate_r:.1%} vs original {rate_o:.1%} "
            f"({(rate_r - rate_o) * 100:+.1f} points, always-valid interval {test.lower * 100:+.1f}..{test.upper * 100:+.1f})")
    if test.reject and rate_r - rate_o > margin:
        return GateResult("errors", FAIL, f"{text}: surely above {tolerance * 100:g} points and above the "
                          f"{margin * 100:g}-point trigger", figures, test, samples)
    need = max(min_uploads, MIN_N)  # below MIN_N the test cannot reject: a pass would mean nothing
    if min(o.uploads, r.uploads) < need:
        return GateResult("errors", SHORT, f"{text}; short of data ({min(o.uploads, r.uploads)}/{need} uploads)",
                          figures, test, samples)
    if rate_r - rate_o > margin:
        return GateResult("errors", SHORT, f"{text}; seen above the {margin * 100:g}-point trigger, not yet surely: "
                          "holding for more data", figures, test, samples)
    return GateResult("errors", PASS, text, figures, test, samples)


def latency_gate(window: Window, baseline: LatencyBaseline | None, *, tau: float, alpha: float,
                 min_uploads: int, baseline_seen: int = 0) -> GateResult:
    """p95 latency: the share slower than original's p95, refactored minus original, tested."""
    if baseline is None:
        return GateResult("latency", SHORT, f"no latency threshold yet: {baseline_seen}/{BASELINE_MIN} original "
                          "durations seen", {}, None, _samples(window, "timed"))
    o, r = window.original, window.refactored
    samples = _samples(window, "timed")
    if min(o.timed, r.timed) == 0:
        return GateResult("latency", SHORT, f"no timed uploads since the threshold was fixed: {o.timed} original, "
                          f"{r.timed} refactored", baseline.to_dict(), None, samples)
    # As the errors gate: surely worse than half the margin, and seen worse than the margin.
    test = difference_test(o.slow, o.timed, r.slow, r.timed, margin=baseline.margin / 2, tau=tau, alpha=alpha)
    share_o, share_r = o.slow / o.timed, r.slow / r.timed
    figures = {"threshold_ms": round(baseline.threshold_s * 1000, 3), "original_slow": round(share_o, 5),
               "refactored_slow": round(share_r, 5), "margin_points": round(baseline.margin * 100, 2),
               "baseline_n": baseline.n, "alpha": alpha}
    text = (f"slower than {baseline.threshold_s * 1000:.1f} ms (original p95): refactored {share_r:.1%} vs original "
            f"{share_o:.1%} ({(share_r - share_o) * 100:+.1f} points, interval {test.lower * 100:+.1f}..{test.upper * 100:+.1f})")
    if test.reject and share_r - share_o > baseline.margin:
        return GateResult("latency", FAIL, f"{text}: above the {baseline.margin * 100:.1f}-point margin (p95 beyond "
                          "the allowed ratio)", figures, test, samples)
    need = max(min_uploads, MIN_N)
    if min(o.timed, r.timed) < need:
        return GateResult("latency", SHORT, f"{text}; short of data ({min(o.timed, r.timed)}/{need} uploads)",
                          figures, test, samples)
    if share_r - share_o > baseline.margin:
        return GateResult("latency", SHORT, f"{text}; seen above the margin, not yet surely: holding for more data",
                          figures, test, samples)
    return GateResult("latency", PASS, text, figures, test, samples)


def srm_gate(window: Window, percent: float, *, alpha: float, min_uploads: int) -> GateResult:
    """Sample ratio: is the refactored share of routed uploads the flag's percent?"""
    o, r = window.original, window.refactored
    unit = "uploads" if o.users is None else "users"
    total = o.split_units + r.split_units
    samples = {"original": o.split_units, "refactored": r.split_units, "unit": unit}
    if total == 0:
        return GateResult("srm", SHORT, f"no {unit} in the window", {}, None, samples)
    test = ratio_test(r.split_units, total, percent / 100.0, alpha=alpha)
    figures = {"expected_share": percent / 100.0, "observed_share": round(r.split_units / total, 5), "alpha": alpha,
               "unit": unit}
    text = f"refactored share {r.split_units / total:.1%} of {total} {unit}, flag at {percent:g}%"
    if test.reject:
        return GateResult("srm", FAIL, f"{text}: sample ratio mismatch (the comparison cannot be trusted)",
                          figures, test, samples)
    if min(o.uploads, r.uploads) < max(min_uploads, MIN_N):
        return GateResult("srm", SHORT, f"{text}; short of data", figures, test, samples)
    return GateResult("srm", PASS, text, figures, test, samples)


def shadow_gate(window: Window, *, max_rate: float) -> GateResult:
    """Shadow mismatches beyond the accepted differences, against a budget per shadowed upload."""
    total = window.original.uploads + window.refactored.uploads
    samples = {"mismatches": window.mismatches, "uploads": total}
    if window.shadow_percent <= 0:
        return GateResult("shadow", OFF, "shadow runs are off on this route: not tested", {}, None, samples)
    shadowed = total * window.shadow_percent / 100.0
    budget = max(2.0, max_rate * shadowed)
    figures = {"mismatches": window.mismatches, "shadowed_estimate": round(shadowed, 1), "budget": round(budget, 1),
               "max_rate": max_rate}
    text = f"{window.mismatches} shadow mismatch(es) in ~{shadowed:.0f} shadowed uploads (budget {budget:.0f})"
    if window.mismatches > budget:
        return GateResult("shadow", FAIL, f"{text}: over budget", figures, None, samples)
    return GateResult("shadow", PASS, text, figures, None, samples)
