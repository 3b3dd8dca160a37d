"""The analysis core: pure functions over plain data that compare the two paths.

    window.py    a time window ("--since 24h", "--from/--to")
    samples.py   per-upload samples per route and path (numpy columns), built from rows
    loading.py   the thin edge: the window's rows from the database (index-served query),
                 the shadow mismatches, the rollout percent's history
    stats.py     Wilson and Newcombe intervals, bootstrap quantiles, Mann-Whitney, SRM
    compare.py   one route's figures: rates, latency, throughput, sectors, shadow, SRM
    verdict.py   the checks against the roadmap's thresholds: fail, pass or inconclusive

The A/B report (`harness report`) and the rollout controller's gates read the same
samples and the same checks.
"""

from app.harness.analysis.compare import RouteComparison, compare_route
from app.harness.analysis.samples import PathSamples, RouteSamples, samples_from_rows
from app.harness.analysis.verdict import Check, RouteVerdict, Thresholds, judge, overall
from app.harness.analysis.window import Window

__all__ = ["Check", "PathSamples", "RouteComparison", "RouteSamples", "RouteVerdict", "Thresholds", "Window",
           "compare_route", "judge", "overall", "samples_from_rows"]
