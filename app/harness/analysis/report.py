"""The A/B report as data: each route's comparison and verdict, the overall verdict, and
its JSON document (`verdict`, `routes.<route>.verdict`, `.reasons`, `.checks`, `.figures`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from app.harness.analysis.compare import RouteComparison, compare_route
from app.harness.analysis.evidence import Mismatch, PercentHistory, ShadowRuns
from app.harness.analysis.samples import RouteSamples
from app.harness.analysis.verdict import RouteVerdict, Thresholds, judge, overall
from app.harness.analysis.window import Window

FORMAT = "arb-ab-report/1"


@dataclass(frozen=True)
class Report:
    """Everything `harness report` writes, computed once."""

    window: Window
    generated_at: dt.datetime
    comparisons: dict[str, RouteComparison]
    verdicts: dict[str, RouteVerdict]
    samples: dict[str, RouteSamples]
    thresholds: Thresholds
    sources: dict = field(default_factory=dict)
    verdict: str = field(init=False)

    def __post_init__(self) -> None:
        routes = list(self.verdicts)
        object.__setattr__(self, "verdict", overall([self.verdicts[r] for r in routes],
                                                    [self.comparisons[r].uploads for r in routes]))

    def to_dict(self) -> dict:
        """The JSON document."""
        return {
            "format": FORMAT,
            "verdict": self.verdict,
            "window": self.window.to_dict(),
            "generated_at": self.generated_at.isoformat(),
            "thresholds": self.thresholds.to_dict(),
            "sources": self.sources,
            "routes": {
                route: {"verdict": v.verdict, "reasons": v.reasons, "checks": [c.to_dict() for c in v.checks],
                        "figures": self.comparisons[route].to_dict()}
                for route, v in self.verdicts.items()
            },
        }


def build_report(samples: Mapping[str, RouteSamples], window: Window, *, now: dt.datetime, seed: int = 0,
                 percents: Mapping[str, PercentHistory | None] | None = None, mismatches: list[Mismatch] = (),
                 shadow_runs: Mapping[str, ShadowRuns] | None = None, thresholds: Thresholds = Thresholds(),
                 sources: dict | None = None) -> Report:
    """Compare and judge every route in `samples`."""
    rng = np.random.default_rng(seed)
    comparisons = {route: compare_route(s, window, rng, percent=(percents or {}).get(route), mismatches=mismatches,
                                        shadow_runs=(shadow_runs or {}).get(route))
                   for route, s in samples.items()}
    verdicts = {route: judge(c, thresholds) for route, c in comparisons.items()}
    return Report(window, now, comparisons, verdicts, dict(samples), thresholds, sources or {})
