"""The gates' figures from Prometheus: the same `Window` as `DatabaseSource`, by PromQL.

For deployments whose controller cannot read the portal's database, or that trust the
metrics the alerts already use. Queries go through the analysis core's client
(`app.harness.analysis.prometheus.PrometheusSource.query`), evaluated at the window's end:

    sum by (path, outcome, error_type) (increase(portal_ingest_requests_total{route="R"}[W]))
    sum by (path, le) (increase(portal_ingest_duration_seconds_bucket{route="R"}[L]))
    sum (increase(portal_shadow_runs_total{route="R", result="mismatch"}[W]))

Approximations, honestly:
- Latency: Prometheus keeps a histogram, not durations. `original_durations` hands the
  controller the original path's observations as their bucket's upper bound, so the p95
  the latency threshold is fixed from is always a bucket bound (`DURATION_BUCKETS`), and
  `slow` = observations above that bound (`+Inf` count minus the bound's bucket): exact
  for the bound, coarse in the value (the threshold can be up to one bucket above the true
  p95, which makes the gate less sensitive, never a false rollback on its own).
- Split units: Prometheus has no users, so `users` is None and the SRM gate counts uploads
  (one user's uploads are not independent: the SRM gate is weaker; turn it off for flows
  with heavy users).
- `increase()` extrapolates over scrape intervals: counts are near, not exact, integers;
  windows shorter than two scrape intervals read nothing (the gates say `short`).
- Pinned uploads cannot be told apart: metrics have no decision reason.

Prometheus unreachable: the window is empty (every gate `short`: no data is not health)
and its source names the failure; the controller never advances on it and never crashes.
"""

from __future__ import annotations

import datetime as dt
import math

from app.harness.analysis.prometheus import PrometheusError
from app.harness.analysis.prometheus import PrometheusSource as PromQL
from app.harness.names import SERVER_ERRORS
from app.harness.rollout.gates import PathCounts, Window
from app.ingest.outcome import ORIGINAL, REFACTORED

BASELINE_LIMIT = 20_000  # as DatabaseSource: durations handed back for the threshold


def _range(start: dt.datetime, end: dt.datetime) -> str:
    return f"{max(1, round((end - start).total_seconds()))}s"


class PrometheusSource:
    """Window counts for the gates, read from a Prometheus server's HTTP API."""

    def __init__(self, url: str, *, timeout: float = 5.0, client: PromQL | None = None) -> None:
        self.client = client or PromQL(url, timeout=timeout)
        self.name = f"prometheus@{self.client.base}"

    def _buckets(self, route: str, path: str, start: dt.datetime, end: dt.datetime) -> list[tuple[float, float]]:
        rows = self.client.query(f'sum by (le) (increase(portal_ingest_duration_seconds_bucket{{route="{route}",'
                                 f'path="{path}"}}[{_range(start, end)}]))', end.timestamp())
        return sorted((float(labels["le"]), value) for labels, value in rows if math.isfinite(value))

    @staticmethod
    def _slow(buckets: list[tuple[float, float]], threshold_s: float) -> tuple[int, int]:
        """(timed, slow): all observations, and those above the smallest bound >= threshold."""
        if not buckets:
            return 0, 0
        total = buckets[-1][1]
        within = next((count for bound, count in buckets if bound >= threshold_s), total)
        return round(total), max(0, round(total - within))

    def window(self, route: str, start: dt.datetime, end: dt.datetime, *, threshold_s: float | None,
               latency_start: dt.datetime | None) -> Window:
        """Per path: uploads, server errors, and (since latency_start) timed and slow uploads."""
        try:
            return self._window(route, start, end, threshold_s, latency_start)
        except PrometheusError as exc:
            return Window(route, start, end, PathCounts(), PathCounts(), f"{self.name} (unreachable: {exc})",
                          threshold_s, latency_start, 0)

    def _window(self, route, start, end, threshold_s, latency_start) -> Window:
        rows = self.client.query(f'sum by (path, outcome, error_type) (increase(portal_ingest_requests_total'
                                 f'{{route="{route}"}}[{_range(start, end)}]))', end.timestamp())
        uploads = {ORIGINAL: 0.0, REFACTORED: 0.0}
        errors = {ORIGINAL: 0.0, REFACTORED: 0.0}
        for labels, value in rows:
            path = labels.get("path")
            if path in uploads and math.isfinite(value):
                uploads[path] += value
                if labels.get("outcome") != "success" and labels.get("error_type") in SERVER_ERRORS:
                    errors[path] += value
        counts = {}
        for path in (ORIGINAL, REFACTORED):
            timed = slow = 0
            if threshold_s is not None and latency_start is not None and latency_start < end:
                timed, slow = self._slow(self._buckets(route, path, max(start, latency_start), end), threshold_s)
            counts[path] = PathCounts(round(uploads[path]), round(errors[path]), timed, slow, None)
        mismatched = self.client.query(f'sum (increase(portal_shadow_runs_total{{route="{route}",result="mismatch"}}'
                                       f'[{_range(start, end)}]))', end.timestamp())
        shadowed = round(sum(v for _, v in mismatched if math.isfinite(v)))
        return Window(route, start, end, counts[ORIGINAL], counts[REFACTORED], self.name, threshold_s,
                      latency_start, shadowed)

    def original_durations(self, route: str, start: dt.datetime, end: dt.datetime) -> list[float]:
        """The original path's observations as their bucket's upper bound (empty when unreachable)."""
        try:
            buckets = self._buckets(route, ORIGINAL, start, end)
        except PrometheusError:
            return []
        out: list[float] = []
        below = 0.0
        finite = [(b, c) for b, c in buckets if math.isfinite(b)]
        total = buckets[-1][1] if buckets else 0.0
        scale = min(1.0, BASELINE_LIMIT / total) if total > 0 else 1.0
        for bound, count in finite:
            out += [bound] * round((count - below) * scale)
            below = count
        if finite and total > below:  # above the last bound: count them at twice it (an honest "slower")
            out += [finite[-1][0] * 2] * round((total - below) * scale)
        return out
