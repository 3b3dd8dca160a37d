"""The verdict: each check against the roadmap's thresholds gives fail, pass or
inconclusive, with a reason naming its figure; a route fails if any check fails, passes
when every check is clear with enough data, and is inconclusive otherwise, saying how many
more uploads each unsettled check needs.

The interval rules keep an A/A comparison (both paths equal) from failing by chance more
than the SRM test's 0.1%: a regression fails only when its whole interval is past the
threshold, and passes only when its whole interval is short of it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from app.harness.analysis.compare import RouteComparison

FAIL, PASS, INCONCLUSIVE, SKIPPED = "fail", "pass", "inconclusive", "skipped"


@dataclass(frozen=True)
class Thresholds:
    """The roadmap's limits for a rollout step."""

    max_server_error_increase: float = 0.05  # 5 points
    max_p95_increase: float = 0.20  # +20%
    max_throughput_drop: float = 0.10  # -10%
    max_mismatches: int = 0  # beyond the accepted (ignored) ones
    min_uploads: int = 30  # per path, before any check can pass

    def to_dict(self) -> dict:
        """JSON-ready."""
        return {"max_server_error_increase": self.max_server_error_increase, "max_p95_increase": self.max_p95_increase,
                "max_throughput_drop": self.max_throughput_drop, "max_mismatches": self.max_mismatches,
                "min_uploads": self.min_uploads}


@dataclass(frozen=True)
class Check:
    """One check's status, its reason (naming the figure), and the uploads it still needs."""

    name: str
    status: str
    reason: str
    more_uploads: int | None = None

    def to_dict(self) -> dict:
        """JSON-ready."""
        return {"check": self.name, "status": self.status, "reason": self.reason, "more_uploads": self.more_uploads}


@dataclass(frozen=True)
class RouteVerdict:
    """A route's verdict and its checks."""

    route: str
    verdict: str
    checks: tuple[Check, ...]

    @property
    def reasons(self) -> list[str]:
        """The reasons behind the verdict: the failing checks', else the unsettled ones', else all."""
        for status in (FAIL, INCONCLUSIVE):
            chosen = [c.reason for c in self.checks if c.status == status]
            if chosen and self.verdict == status:
                return chosen
        return [c.reason for c in self.checks]

    def check(self, name: str) -> Check:
        """The check called `name`."""
        return next(c for c in self.checks if c.name == name)


def _more(n_now: int, half_width: float, distance: float) -> int | None:
    """Uploads per path still needed for an interval of `half_width` (which shrinks as
    1/sqrt(n)) to clear a threshold `distance` away from the estimate; None if it cannot."""
    if not (math.isfinite(half_width) and math.isfinite(distance)) or distance <= 0 or n_now <= 0:
        return None
    return max(1, math.ceil(n_now * (half_width / distance) ** 2) - n_now)


def _pts(x: float) -> str:
    return f"{x * 100:+.1f} points"


def check_uploads(c: RouteComparison, t: Thresholds) -> Check:
    """Enough uploads on both paths for any check to pass."""
    short = [(p.path, p.success.n) for p in (c.original, c.refactored) if p.success.n < t.min_uploads]
    if not short:
        return Check("uploads", PASS, f"{c.original.success.n} original and {c.refactored.success.n} refactored "
                                      f"settled uploads (at least {t.min_uploads} each)")
    need = max(t.min_uploads - n for _, n in short)
    text = ", ".join(f"{path} has {n}" for path, n in short)
    return Check("uploads", INCONCLUSIVE, f"too few uploads: {text} of the {t.min_uploads} needed per path", need)


def check_server_errors(c: RouteComparison, t: Thresholds) -> Check:
    """Server-error rate: fail when up by more than the limit with the interval clear of it."""
    d, limit = c.server_error_difference, t.max_server_error_increase
    n = min(c.original.server_error.n, c.refactored.server_error.n)
    figure = (f"server-error rate {c.refactored.server_error.value * 100:.1f}% refactored vs "
              f"{c.original.server_error.value * 100:.1f}% original: {_pts(d.value)} "
              f"(95% CI {_pts(d.low)} to {_pts(d.high)})")
    if not math.isfinite(d.value):
        return Check("server_errors", INCONCLUSIVE, "server-error rate: no settled uploads on a path", t.min_uploads)
    if d.low > limit:
        return Check("server_errors", FAIL, f"{figure}, up by more than {limit * 100:g} points")
    if d.high < limit:
        return Check("server_errors", PASS, f"{figure}, clear of +{limit * 100:g} points")
    more = _more(n, (d.high - d.low) / 2, abs(limit - d.value))
    return Check("server_errors", INCONCLUSIVE, f"{figure}: the interval straddles +{limit * 100:g} points; "
                 + (f"about {more} more uploads per path would settle it" if more else "at the limit"), more)


def _ratio_check(name: str, label: str, value, n: int, limit: float, worse_above: bool) -> Check:
    """A ratio (refactored / original) against `limit`, on the log scale the bootstrap spreads on."""
    if not (math.isfinite(value.value) and math.isfinite(value.low) and math.isfinite(value.high)) or value.low <= 0:
        return Check(name, INCONCLUSIVE, f"{label}: not enough durations on both paths to compare", None)
    figure = f"{label} {value.value:.2f}x (95% CI {value.low:.2f} to {value.high:.2f})"
    beyond = value.low > limit if worse_above else value.high < limit
    clear = value.high < limit if worse_above else value.low > limit
    if beyond:
        return Check(name, FAIL, f"{figure}, beyond the {limit:.2f}x limit")
    if clear:
        return Check(name, PASS, f"{figure}, clear of the {limit:.2f}x limit")
    half = (math.log(value.high) - math.log(value.low)) / 2
    more = _more(n, half, abs(math.log(limit) - math.log(value.value)))
    return Check(name, INCONCLUSIVE, f"{figure}: the interval straddles {limit:.2f}x; "
                 + (f"about {more} more uploads per path would settle it" if more else "at the limit"), more)


def check_latency(c: RouteComparison, t: Thresholds) -> Check:
    """p95 latency: fail when refactored's is more than the limit above original's."""
    n = min(c.latency.resampled) if c.latency.reps else 0
    check = _ratio_check("latency_p95", "p95 latency refactored / original", c.latency.ratio.get(0.95),
                         min(c.original.success.n, c.refactored.success.n) or n, 1 + t.max_p95_increase, True)
    if math.isfinite(c.rank.p):
        direction = "slower" if c.rank.slower_probability > 0.5 else "faster"
        check = Check(check.name, check.status, f"{check.reason} (Mann-Whitney p={c.rank.p:.3g}; refactored "
                      f"{direction} in {max(c.rank.slower_probability, 1 - c.rank.slower_probability) * 100:.0f}% "
                      "of pairs)", check.more_uploads)
    return check


def check_throughput(c: RouteComparison, t: Thresholds) -> Check:
    """Throughput (uploads per worker-second, 1 / mean duration): fail when down by more than the limit."""
    return _ratio_check("throughput", "throughput refactored / original", c.latency.throughput_ratio,
                        min(c.original.success.n, c.refactored.success.n), 1 - t.max_throughput_drop, False)


def check_split(c: RouteComparison, t: Thresholds) -> Check:
    """Sample ratio: the observed split of percentage-routed users against the rollout percent."""
    s = c.split
    if s is None:
        return Check("sample_ratio", SKIPPED, "sample ratio not checked: the rollout percent's history is unknown")
    if not math.isfinite(s.p):
        return Check("sample_ratio", SKIPPED, "sample ratio not checked: no user was routed by the percentage")
    figure = (f"split of {sum(s.observed)} percentage-routed users {s.observed[0]} original / {s.observed[1]} "
              f"refactored, expected {s.expected[0]:.0f} / {s.expected[1]:.0f} (chi-squared p={s.p:.3g})")
    if s.mismatch:
        return Check("sample_ratio", FAIL, f"sample ratio mismatch: {figure} < 0.001; the split is broken, "
                                           "so no other figure can be trusted")
    return Check("sample_ratio", PASS, figure)


def check_shadow(c: RouteComparison, t: Thresholds) -> Check:
    """Shadow mismatches beyond the accepted (ignored) ones."""
    s = c.shadow
    if s.mismatches > t.max_mismatches:
        top = ", ".join(f"{f.field} ({f.count})" for f in s.top_fields[:3])
        return Check("shadow", FAIL, f"{s.mismatches} shadow mismatches beyond the accepted ones "
                                     f"(at most {t.max_mismatches}); fields: {top}")
    return Check("shadow", PASS, f"{s.mismatches} shadow mismatches beyond the accepted ones")


CHECKS = (check_uploads, check_split, check_server_errors, check_latency, check_throughput, check_shadow)


# Checks on estimates: with too few uploads on a path they can neither fail nor pass.
ESTIMATES = ("server_errors", "latency_p95", "throughput")


def judge(c: RouteComparison, thresholds: Thresholds = Thresholds()) -> RouteVerdict:
    """The verdict of one route."""
    checks = tuple(check(c, thresholds) for check in CHECKS)
    enough = checks[0]
    if enough.status != PASS:
        checks = tuple(Check(ch.name, INCONCLUSIVE, f"{ch.reason} [not judged: too few uploads]",
                             max(ch.more_uploads or 0, enough.more_uploads or 0))
                       if ch.name in ESTIMATES and ch.status in (PASS, FAIL) else ch for ch in checks)
    statuses = {check.status for check in checks}
    verdict = FAIL if FAIL in statuses else INCONCLUSIVE if INCONCLUSIVE in statuses else PASS
    return RouteVerdict(c.route, verdict, checks)


def overall(verdicts: Sequence[RouteVerdict], uploads: Iterable[int] | None = None) -> str:
    """Fail if any route fails, pass if every route with uploads passes, else inconclusive."""
    counted = list(verdicts)
    if uploads is not None:
        with_data = [v for v, n in zip(verdicts, uploads) if n]
        counted = with_data or counted
    if any(v.verdict == FAIL for v in counted):
        return FAIL
    if counted and all(v.verdict == PASS for v in counted):
        return PASS
    return INCONCLUSIVE
