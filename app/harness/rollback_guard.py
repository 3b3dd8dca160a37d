"""The rollback guard: kill a route's refactored flag when the refactored path regresses.

It applies the roadmap's triggers, the same as the alert rules (ops/prometheus/rules.yml),
to the portal's own `/metrics` (every instance summed), without needing Prometheus:

- server-side error rate (`database_error`, `processing_error`) of the refactored path
  higher than the original's on the same route by more than 5 percentage points, or
- refactored p95 latency above 1.2x the original's (and at least 10 ms slower),

over a sliding window (5 minutes), with both paths above a minimum traffic (20 uploads in
the window), held for a duration (10 minutes; a brief spike does not trigger). Then it
turns on the kill switch of that route's flag as actor `rollback-guard`, with the
measured figures as the reason; `portal_rollbacks_total{trigger="guard"}` counts it.

    harness guard --metrics-url http://portal-1:5000/metrics [--metrics-url ...] [--once]

The core (`RegressionGuard.observe`) is pure: totals in, triggers out; a clock is passed in.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

from app.harness.names import GUARD_ACTOR, ROUTE_FLAGS, SERVER_ERRORS
from app.ingest.outcome import PATHS

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class Thresholds:
    """When the guard acts (defaults: the roadmap's triggers, as in the alert rules)."""

    error_points: float = 0.05
    latency_ratio: float = 1.2
    latency_floor_s: float = 0.010
    min_requests: int = 20
    window_s: float = 300.0
    hold_s: float = 600.0


@dataclass(frozen=True)
class PathTotals:
    """Cumulative counts of one route and path, as scraped."""

    requests: float = 0.0
    server_errors: float = 0.0
    buckets: tuple[tuple[float, float], ...] = ()  # (upper bound, cumulative count), ascending

    def minus(self, earlier: PathTotals) -> PathTotals:
        """The increase since `earlier`."""
        before = dict(earlier.buckets)
        return PathTotals(self.requests - earlier.requests, self.server_errors - earlier.server_errors,
                          tuple((le, count - before.get(le, 0.0)) for le, count in self.buckets))


Totals = Mapping[tuple[str, str], PathTotals]


@dataclass(frozen=True)
class Trigger:
    """A route whose refactored path regressed long enough: why, in figures."""

    route: str
    flag: str
    reason: str


def parse_totals(texts: Iterable[str]) -> dict[tuple[str, str], PathTotals]:
    """Sum `portal_ingest_requests_total` and the duration histogram over every exposition."""
    requests: dict = {}
    errors: dict = {}
    buckets: dict = {}
    for text in texts:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels = sample.labels
                key = (labels.get("route"), labels.get("path"))
                if sample.name == "portal_ingest_requests_total":
                    requests[key] = requests.get(key, 0.0) + sample.value
                    if labels.get("error_type") in SERVER_ERRORS:
                        errors[key] = errors.get(key, 0.0) + sample.value
                elif sample.name == "portal_ingest_duration_seconds_bucket":
                    le = float(labels["le"])
                    per = buckets.setdefault(key, {})
                    per[le] = per.get(le, 0.0) + sample.value
    return {key: PathTotals(requests[key], errors.get(key, 0.0), tuple(sorted(buckets.get(key, {}).items())))
            for key in requests}


def quantile(q: float, buckets: tuple[tuple[float, float], ...]) -> float | None:
    """The q-quantile of a cumulative histogram, interpolated as Prometheus' histogram_quantile."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    total = buckets[-1][1]
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for upper, count in buckets:
        if count >= rank:
            if math.isinf(upper):
                return lower_bound
            span = count - lower_count
            return lower_bound + (upper - lower_bound) * ((rank - lower_count) / span if span else 1.0)
        lower_bound, lower_count = upper, count
    return lower_bound


@dataclass
class RegressionGuard:
    """Keeps a window of scraped totals and reports routes that regressed for long enough."""

    thresholds: Thresholds = field(default_factory=Thresholds)
    _history: deque = field(default_factory=deque)
    _since: dict = field(default_factory=dict)

    def observe(self, now: float, totals: Totals) -> list[Trigger]:
        """Add a scrape taken at `now` (seconds); return the routes to roll back."""
        if self._history and any(totals.get(k, PathTotals()).requests < v.requests for k, v in self._history[-1][1].items()):
            self._history.clear()  # a counter went down: the portal restarted; start the window anew
            self._since.clear()
        self._history.append((now, dict(totals)))
        while len(self._history) > 1 and self._history[1][0] <= now - self.thresholds.window_s:
            self._history.popleft()
        start, earlier = self._history[0]
        if now - start < self.thresholds.window_s * 0.9:
            return []  # not a full window yet
        triggers = []
        for route, flag in ROUTE_FLAGS.items():
            why = self._regression(route, totals, earlier)
            if why is None:
                self._since.pop(route, None)
                continue
            since = self._since.setdefault(route, now)
            if now - since >= self.thresholds.hold_s:
                triggers.append(Trigger(route, flag, why))
                self._since.pop(route, None)
        return triggers

    def _regression(self, route: str, now: Totals, earlier: Totals) -> str | None:
        t = self.thresholds
        window = {path: now.get((route, path), PathTotals()).minus(earlier.get((route, path), PathTotals())) for path in PATHS}
        if min(w.requests for w in window.values()) < t.min_requests:
            return None
        original, refactored = window["original"], window["refactored"]
        error_gap = refactored.server_errors / refactored.requests - original.server_errors / original.requests
        if error_gap > t.error_points:
            return (f"refactored server-error rate {refactored.server_errors / refactored.requests:.1%} vs original "
                    f"{original.server_errors / original.requests:.1%} on {route} ({error_gap * 100:.1f} points over "
                    f"{t.window_s / 60:.0f} min, threshold {t.error_points * 100:.0f})")
        p95_original, p95_refactored = quantile(0.95, original.buckets), quantile(0.95, refactored.buckets)
        if (p95_original and p95_refactored and p95_refactored > t.latency_ratio * p95_original
                and p95_refactored - p95_original >= t.latency_floor_s):
            return (f"refactored p95 {p95_refactored * 1000:.0f} ms vs original {p95_original * 1000:.0f} ms on {route} "
                    f"({p95_refactored / p95_original:.2f}x, threshold {t.latency_ratio}x)")
        return None


def act(triggers: Iterable[Trigger], flags) -> list[str]:
    """Kill each triggered route's flag as the guard; returns what was done."""
    done = []
    for trigger in triggers:
        state = flags.get(trigger.flag)
        if getattr(state, "killed", False):
            continue
        flags.kill(trigger.flag, actor=GUARD_ACTOR, reason=f"rollback guard: {trigger.reason}")
        log.warning("rollback guard killed %s: %s", trigger.flag, trigger.reason)
        done.append(f"killed {trigger.flag}: {trigger.reason}")
    return done


def run_once(guard: RegressionGuard, fetch: Callable[[], list[str]], flags, now: float) -> list[str]:
    """Scrape, evaluate, act; a failed scrape is logged and never triggers anything."""
    try:
        texts = fetch()
    except Exception as exc:  # noqa: BLE001 - an unreachable instance must not roll anything back
        log.warning("rollback guard could not scrape: %s", exc)
        return []
    return act(guard.observe(now, parse_totals(texts)), flags)
