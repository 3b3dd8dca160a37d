"""Prometheus as a source: the same figures by PromQL over the HTTP API, for deployments
that keep metrics longer than upload records, and the shadow runs by result (the database
keeps mismatches only).

    sum by (path, outcome, error_type) (increase(portal_ingest_requests_total{route="direct"}[86400s]))
    histogram_quantile(0.95, sum by (path, le) (increase(portal_ingest_duration_seconds_bucket{route="direct"}[86400s])))
    sum by (result) (increase(portal_shadow_runs_total{route="direct"}[86400s]))

all evaluated at the window's end. A route the database holds no uploads for gets its
outcome counts from Prometheus (no per-upload durations: its latency checks stay
inconclusive, and the PromQL quantiles are reported beside it).
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping

import numpy as np

from app.harness.analysis.evidence import ShadowRuns
from app.harness.analysis.samples import (
    CLIENT_ERROR,
    SERVER_ERROR,
    SUCCESS,
    TIME_BINS,
    Cells,
    PathSamples,
    RouteSamples,
    bin_edges,
)
from app.harness.analysis.window import Window
from app.harness.names import SERVER_ERRORS
from app.ingest.outcome import ORIGINAL, REFACTORED

Fetch = Callable[[str, float], bytes]


class PrometheusError(RuntimeError):
    """Prometheus could not be queried; the message names the server and the query."""


def _fetch(url: str, timeout: float) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - an operator-given URL
        return response.read()


class PrometheusSource:
    """Instant PromQL queries at a window's end against one server."""

    def __init__(self, base_url: str, fetch: Fetch = _fetch, timeout: float = 30.0) -> None:
        self.base = base_url.rstrip("/")
        self._fetch = fetch
        self._timeout = timeout

    def query(self, promql: str, at: float) -> list[tuple[dict, float]]:
        """[(labels, value)] of an instant vector."""
        url = f"{self.base}/api/v1/query?" + urllib.parse.urlencode({"query": promql, "time": f"{at:.3f}"})
        try:
            body = json.loads(self._fetch(url, self._timeout))
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise PrometheusError(f"Prometheus at {self.base} did not answer {promql!r}: {exc}") from None
        if body.get("status") != "success":
            raise PrometheusError(f"Prometheus at {self.base} refused {promql!r}: {body.get('error')}")
        return [(item["metric"], float(item["value"][1])) for item in body["data"]["result"]]

    @staticmethod
    def _range(window: Window) -> str:
        return f"{max(1, round(window.seconds))}s"

    def outcome_counts(self, route: str, window: Window) -> dict[str, dict[int, int]]:
        """{path: {outcome code: uploads}} over the window."""
        rows = self.query(f'sum by (path, outcome, error_type) (increase(portal_ingest_requests_total{{route="{route}"}}'
                          f'[{self._range(window)}]))', window.end.timestamp())
        counts: dict[str, dict[int, int]] = {ORIGINAL: {}, REFACTORED: {}}
        for labels, value in rows:
            if labels.get("path") not in counts or not math.isfinite(value):
                continue
            code = SUCCESS if labels.get("outcome") == "success" else (
                SERVER_ERROR if labels.get("error_type") in SERVER_ERRORS else CLIENT_ERROR)
            per = counts[labels["path"]]
            per[code] = per.get(code, 0) + round(value)
        return counts

    def quantiles(self, route: str, window: Window, qs=(0.5, 0.95, 0.99)) -> dict[str, dict[str, float | None]]:
        """{path: {"p50": seconds, ...}} by histogram_quantile."""
        out: dict[str, dict[str, float | None]] = {ORIGINAL: {}, REFACTORED: {}}
        for q in qs:
            rows = self.query(f'histogram_quantile({q}, sum by (path, le) (increase('
                              f'portal_ingest_duration_seconds_bucket{{route="{route}"}}[{self._range(window)}])))',
                              window.end.timestamp())
            for labels, value in rows:
                if labels.get("path") in out:
                    out[labels["path"]][f"p{round(q * 100)}"] = value if math.isfinite(value) else None
        return out

    def shadow_runs(self, route: str, window: Window) -> ShadowRuns:
        """Shadow runs of the window by result."""
        rows = self.query(f'sum by (result) (increase(portal_shadow_runs_total{{route="{route}"}}'
                          f'[{self._range(window)}]))', window.end.timestamp())
        return ShadowRuns({labels.get("result", "?"): value for labels, value in rows if math.isfinite(value)})

    def figures(self, route: str, window: Window) -> dict:
        """The PromQL figures reported beside the database's."""
        counts = self.outcome_counts(route, window)
        return {"uploads": {p: {"success": c.get(SUCCESS, 0), "server_error": c.get(SERVER_ERROR, 0),
                                "client_error": c.get(CLIENT_ERROR, 0)} for p, c in counts.items()},
                "latency_seconds": self.quantiles(route, window)}

    def fill_missing(self, samples: Mapping[str, RouteSamples], window: Window) -> dict[str, RouteSamples]:
        """Routes without database uploads get outcome-only samples from Prometheus' counts."""
        out = dict(samples)
        for route, s in samples.items():
            if len(s.original) or len(s.refactored):
                continue
            counts = self.outcome_counts(route, window)
            out[route] = RouteSamples(route, _outcome_only(ORIGINAL, counts[ORIGINAL], window),
                                      _outcome_only(REFACTORED, counts[REFACTORED], window),
                                      bin_edges(window.start.timestamp(), window.end.timestamp()))
        return out


def _outcome_only(path: str, counts: Mapping[int, int], window: Window) -> PathSamples:
    codes = sorted(c for c, n in counts.items() if n)
    last_bin = np.full(len(codes), TIME_BINS - 1, dtype=np.int64)
    none = np.full(len(codes), -1, dtype=np.int64)
    cells = Cells(last_bin, np.array(codes, dtype=np.int64), none, none,
                  np.array([counts[c] for c in codes], dtype=np.int64))
    return PathSamples(path, np.array([], dtype=float), cells)
