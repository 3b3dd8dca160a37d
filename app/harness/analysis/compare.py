"""One route's comparison: every figure the report shows and the verdict judges, computed
once from the samples (pure: the data and a random generator come in)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from app.harness.analysis.evidence import Mismatch, PercentHistory, ShadowRuns, mismatches_on
from app.harness.analysis.samples import CLIENT_ERROR, PENDING, SERVER_ERROR, SUCCESS, PathSamples, RouteSamples
from app.harness.analysis.stats import (
    Difference,
    LatencyComparison,
    Rate,
    RankTest,
    SampleRatio,
    _num,
    bootstrap_latency,
    mann_whitney,
    newcombe,
    sample_ratio,
    wilson,
)
from app.harness.analysis.window import Window

TOP_FIELDS = 10
EXAMPLES = 3


@dataclass(frozen=True)
class PathFigures:
    """One path's counts and rates."""

    path: str
    uploads: int
    pending: int
    success: Rate
    server_error: Rate
    client_error: Rate
    per_second: float
    mean_seconds: float

    def to_dict(self) -> dict:
        """JSON-ready."""
        return {"uploads": self.uploads, "settled": self.success.n, "pending": self.pending,
                "success": self.success.to_dict(), "server_error": self.server_error.to_dict(),
                "client_error": self.client_error.to_dict(), "uploads_per_second": _num(self.per_second),
                "mean_seconds": _num(self.mean_seconds)}


def path_figures(samples: PathSamples, window: Window) -> PathFigures:
    """Counts and Wilson intervals of one path's outcomes."""
    settled = samples.settled
    latencies = samples.latencies()
    return PathFigures(samples.path, len(samples), samples.count(PENDING), wilson(samples.count(SUCCESS), settled),
                       wilson(samples.count(SERVER_ERROR), settled), wilson(samples.count(CLIENT_ERROR), settled),
                       len(samples) / window.seconds, float(latencies.mean()) if latencies.size else math.nan)


@dataclass(frozen=True)
class FieldMismatches:
    """One field that mismatched: how often, and up to three examples."""

    field: str
    count: int
    examples: tuple[dict, ...]


@dataclass(frozen=True)
class ShadowFigures:
    """The shadow runs' evidence for one route."""

    mismatches: int
    top_fields: tuple[FieldMismatches, ...]
    runs: ShadowRuns | None
    over_time: tuple[int, ...]

    def to_dict(self) -> dict:
        """JSON-ready."""
        runs = None
        if self.runs is not None:
            runs = {"counts": self.runs.counts,
                    "rates": {k: self.runs.rate(k) for k in ("match", "mismatch", "ignored")}}
        return {"mismatches": self.mismatches, "runs": runs,
                "top_fields": [{"field": f.field, "count": f.count, "examples": list(f.examples)}
                               for f in self.top_fields]}


def shadow_figures(mismatches: Sequence[Mismatch], edges: np.ndarray, runs: ShadowRuns | None) -> ShadowFigures:
    """Mismatch counts, the fields that mismatch most with three examples each, per time bin."""
    counts: Counter[str] = Counter()
    examples: dict[str, list[dict]] = {}
    for m in mismatches:
        for d in m.differences:
            name = str(d.get("field"))
            counts[name] += 1
            if len(examples.setdefault(name, [])) < EXAMPLES:
                examples[name].append({"control": d.get("control"), "candidate": d.get("candidate"),
                                       "control_path": m.control_path, "at": m.at})
    top = tuple(FieldMismatches(f, n, tuple(examples[f])) for f, n in
                sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:TOP_FIELDS])
    binned = np.histogram([m.at for m in mismatches], bins=edges)[0] if mismatches else np.zeros(len(edges) - 1, int)
    return ShadowFigures(len(mismatches), top, runs, tuple(int(x) for x in binned))


def split_check(samples: RouteSamples, percent: PercentHistory | None) -> SampleRatio | None:
    """The SRM test on users routed by the percentage: each user's last upload's path
    against the percent in force then. None when the percent's history is unknown."""
    if percent is None:
        return None
    if samples.unit_at.size == 0:
        return sample_ratio(0, 0, np.array([]))
    on_ref = int(samples.unit_refactored.sum())
    return sample_ratio(int(samples.unit_at.size) - on_ref, on_ref, percent.at(samples.unit_at) / 100.0)


def sector_figures(samples: RouteSamples) -> list[dict]:
    """Per sector: each path's settled uploads, success and server-error rates."""
    labels = list(samples.original.sectors or samples.refactored.sectors)
    rows = []
    for code, sector in sorted(list(enumerate(labels)) + [(-1, "(unknown)")], key=lambda item: str(item[1])):
        row: dict = {"sector": str(sector)}
        for name, p in samples.paths.items():
            c = p.cells
            mine = (c.sector == code) & (c.outcome != PENDING)
            n = c.total(mine)
            row[name] = {"uploads": n, "success": wilson(c.total(mine & (c.outcome == SUCCESS)), n).to_dict(),
                         "server_error": wilson(c.total(mine & (c.outcome == SERVER_ERROR)), n).to_dict()}
        if row["original"]["uploads"] or row["refactored"]["uploads"]:
            rows.append(row)
    return rows


def decisions(samples: RouteSamples) -> dict[str, dict[str, int]]:
    """Uploads by routing reason and path."""
    out: dict[str, dict[str, int]] = {}
    for name, p in samples.paths.items():
        for code, reason in list(enumerate(p.reasons)) + [(-1, "(unknown)")]:
            n = p.cells.total(p.cells.reason == code)
            if n:
                out.setdefault(str(reason), {"original": 0, "refactored": 0})[name] = n
    return dict(sorted(out.items()))


def timeline(samples: RouteSamples, percent: PercentHistory | None) -> dict:
    """Per time bin: each path's uploads, success and server-error rates, the rollout percent."""
    edges = samples.edges
    bins = len(edges) - 1
    out: dict = {"edges": [float(e) for e in edges]}
    for name, p in samples.paths.items():
        c = p.cells
        settled = c.outcome != PENDING
        total = np.bincount(c.bin[settled], weights=c.n[settled], minlength=bins)[:bins]
        ok = np.bincount(c.bin[c.outcome == SUCCESS], weights=c.n[c.outcome == SUCCESS], minlength=bins)[:bins]
        bad = np.bincount(c.bin[c.outcome == SERVER_ERROR], weights=c.n[c.outcome == SERVER_ERROR], minlength=bins)[:bins]
        with np.errstate(divide="ignore", invalid="ignore"):
            out[name] = {"uploads": [int(x) for x in total], "success_rate": [_num(x) for x in ok / total],
                         "server_error_rate": [_num(x) for x in bad / total]}
    mids = (edges[:-1] + edges[1:]) / 2
    out["percent"] = None if percent is None else [float(x) for x in percent.at(mids)]
    return out


@dataclass(frozen=True)
class RouteComparison:
    """Every figure of one route: per path, refactored minus original, and the evidence."""

    route: str
    window: Window
    original: PathFigures
    refactored: PathFigures
    success_difference: Difference
    server_error_difference: Difference
    client_error_difference: Difference
    latency: LatencyComparison
    rank: RankTest
    split: SampleRatio | None
    sectors: list[dict]
    shadow: ShadowFigures
    decisions: dict[str, dict[str, int]]
    timeline: dict
    percent: PercentHistory | None = field(default=None)

    @property
    def uploads(self) -> int:
        """Uploads on both paths."""
        return self.original.uploads + self.refactored.uploads

    def to_dict(self) -> dict:
        """JSON-ready (the report's `routes.<route>.figures`)."""
        lat = self.latency

        def quantiles(values: Mapping) -> dict:
            return {f"p{round(q * 100)}": v.to_dict() for q, v in values.items()}

        return {
            "original": {**self.original.to_dict(), "latency_seconds": quantiles(lat.original)},
            "refactored": {**self.refactored.to_dict(), "latency_seconds": quantiles(lat.refactored)},
            "refactored_minus_original": {
                "success_rate": self.success_difference.to_dict(),
                "server_error_rate": self.server_error_difference.to_dict(),
                "client_error_rate": self.client_error_difference.to_dict(),
            },
            "latency_ratio": quantiles(lat.ratio),
            "throughput_ratio": lat.throughput_ratio.to_dict(),
            "bootstrap": {"reps": lat.reps, "resampled": {"original": lat.resampled[0], "refactored": lat.resampled[1]}},
            "mann_whitney": self.rank.to_dict(),
            "sample_ratio": None if self.split is None else self.split.to_dict(),
            "sectors": self.sectors,
            "shadow": self.shadow.to_dict(),
            "decisions": self.decisions,
            "percent_history": None if self.percent is None else self.percent.to_dict(),
        }


def compare_route(samples: RouteSamples, window: Window, rng: np.random.Generator, *,
                  percent: PercentHistory | None = None, mismatches: Sequence[Mismatch] = (),
                  shadow_runs: ShadowRuns | None = None) -> RouteComparison:
    """Compare the two paths of one route over `window`."""
    original, refactored = path_figures(samples.original, window), path_figures(samples.refactored, window)
    a, b = samples.original.latencies(), samples.refactored.latencies()
    edges = samples.edges
    return RouteComparison(
        samples.route, window, original, refactored,
        newcombe(original.success, refactored.success),
        newcombe(original.server_error, refactored.server_error),
        newcombe(original.client_error, refactored.client_error),
        bootstrap_latency(a, b, rng), mann_whitney(a, b), split_check(samples, percent), sector_figures(samples),
        shadow_figures(mismatches_on(mismatches, samples.route), edges, shadow_runs), decisions(samples),
        timeline(samples, percent), percent,
    )
