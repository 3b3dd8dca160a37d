"""The statistics, on numpy and scipy: proportion intervals, bootstrap quantile intervals,
Mann-Whitney, and the sample-ratio-mismatch test. Pure; randomness comes in as a Generator."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

CONFIDENCE = 0.95
BOOTSTRAP_REPS = 1000
# Bootstrap on at most this many samples per path: beyond it, an m-out-of-n bootstrap on a
# uniform subsample, its spread scaled by sqrt(m / n) and centred on the full data's figure.
BOOTSTRAP_CAP = 5_000
QUANTILES = (0.5, 0.95, 0.99)
SRM_P = 0.001


def _z(confidence: float = CONFIDENCE) -> float:
    return float(sps.norm.ppf(0.5 + confidence / 2))


@dataclass(frozen=True)
class Rate:
    """k of n with its Wilson interval."""

    k: int
    n: int
    low: float
    high: float

    @property
    def value(self) -> float:
        """k / n (NaN when n is 0)."""
        return self.k / self.n if self.n else math.nan

    def to_dict(self) -> dict:
        """JSON-ready."""
        return {"count": self.k, "of": self.n, "rate": _num(self.value), "ci": [_num(self.low), _num(self.high)]}


def wilson(k: int, n: int, confidence: float = CONFIDENCE) -> Rate:
    """The Wilson score interval of k successes in n trials."""
    if n == 0:
        return Rate(k, n, math.nan, math.nan)
    z = _z(confidence)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return Rate(k, n, max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True)
class Difference:
    """b - a of two rates with Newcombe's hybrid score interval (his method 10)."""

    value: float
    low: float
    high: float

    def to_dict(self) -> dict:
        """JSON-ready."""
        return {"difference": _num(self.value), "ci": [_num(self.low), _num(self.high)]}


def newcombe(a: Rate, b: Rate) -> Difference:
    """The interval of b.value - a.value from the two Wilson intervals."""
    if not a.n or not b.n:
        return Difference(math.nan, math.nan, math.nan)
    pa, pb = a.value, b.value
    d = pb - pa
    low = d - math.sqrt((pb - b.low) ** 2 + (a.high - pa) ** 2)
    high = d + math.sqrt((b.high - pb) ** 2 + (pa - a.low) ** 2)
    return Difference(d, low, high)


@dataclass(frozen=True)
class Estimate:
    """A figure with its bootstrap interval."""

    value: float
    low: float
    high: float

    def to_dict(self) -> dict:
        """JSON-ready."""
        return {"value": _num(self.value), "ci": [_num(self.low), _num(self.high)]}


NAN = Estimate(math.nan, math.nan, math.nan)


@dataclass(frozen=True)
class LatencyComparison:
    """Quantiles of both paths and refactored / original ratios, each with an interval;
    the throughput ratio (1 / mean duration) likewise."""

    original: dict[float, Estimate]
    refactored: dict[float, Estimate]
    ratio: dict[float, Estimate]
    throughput_ratio: Estimate
    reps: int
    resampled: tuple[int, int]


def _subsample(values: np.ndarray, cap: int, rng: np.random.Generator) -> np.ndarray:
    return values if values.size <= cap else rng.choice(values, cap, replace=False)


def _interval(draws: np.ndarray, confidence: float, point: float = math.nan, centre: float = math.nan,
              scale: float = 1.0) -> tuple[float, float]:
    """The percentile interval of `draws`; with `scale` < 1 (a subsample), the draws' log
    deviations from `centre` (the subsample's figure) shrunk by `scale` around `point`."""
    draws = draws[np.isfinite(draws) & (draws > 0)] if scale != 1.0 else draws[np.isfinite(draws)]
    if draws.size == 0:
        return math.nan, math.nan
    if scale != 1.0:
        if not (point > 0 and centre > 0):
            return math.nan, math.nan
        draws = point * np.exp((np.log(draws) - math.log(centre)) * scale)
    low, high = np.quantile(draws, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(low), float(high)


def _resampled(values: np.ndarray, quantiles, reps: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(quantiles x reps, means per rep) of `reps` resamples, drawn in chunks to bound memory."""
    qs, means = [], []
    chunk = max(1, 4_000_000 // max(1, values.size))
    for done in range(0, reps, chunk):
        draws = values[rng.integers(0, values.size, (min(chunk, reps - done), values.size))]
        qs.append(np.quantile(draws, quantiles, axis=1))
        means.append(draws.mean(axis=1))
    return np.concatenate(qs, axis=1), np.concatenate(means)


def bootstrap_latency(original: np.ndarray, refactored: np.ndarray, rng: np.random.Generator, *,
                      quantiles=QUANTILES, reps: int = BOOTSTRAP_REPS, cap: int = BOOTSTRAP_CAP,
                      confidence: float = CONFIDENCE) -> LatencyComparison:
    """Percentile-bootstrap intervals of each path's quantiles, their ratios and the throughput ratio."""
    def points(values: np.ndarray) -> dict[float, Estimate]:
        return {q: Estimate(float(np.quantile(values, q)) if values.size else math.nan, math.nan, math.nan)
                for q in quantiles}

    if original.size == 0 or refactored.size == 0:
        return LatencyComparison(points(original), points(refactored), {q: NAN for q in quantiles}, NAN, 0,
                                 (int(original.size), int(refactored.size)))
    a, b = _subsample(original, cap, rng), _subsample(refactored, cap, rng)
    qa, ma = _resampled(a, quantiles, reps, rng)
    qb, mb = _resampled(b, quantiles, reps, rng)
    sa, sb = math.sqrt(a.size / original.size), math.sqrt(b.size / refactored.size)
    # a ratio's spread comes from both paths: scale by the pooled factor
    sr = math.sqrt((sa ** 2 / a.size + sb ** 2 / b.size) / (1 / a.size + 1 / b.size))
    by_path: dict[str, dict[float, Estimate]] = {"a": {}, "b": {}, "r": {}}
    with np.errstate(divide="ignore", invalid="ignore"):
        for i, q in enumerate(quantiles):
            pa, pb = float(np.quantile(original, q)), float(np.quantile(refactored, q))
            ca, cb = float(np.quantile(a, q)), float(np.quantile(b, q))
            r, cr = (pb / pa if pa else math.nan), (cb / ca if ca else math.nan)
            by_path["a"][q] = Estimate(pa, *_interval(qa[i], confidence, pa, ca, sa))
            by_path["b"][q] = Estimate(pb, *_interval(qb[i], confidence, pb, cb, sb))
            by_path["r"][q] = Estimate(r, *_interval(qb[i] / qa[i], confidence, r, cr, sr))
        mean_a, mean_b = float(original.mean()), float(refactored.mean())
        t, ct = (mean_a / mean_b if mean_b else math.nan), float(a.mean() / b.mean()) if b.mean() else math.nan
        throughput = Estimate(t, *_interval(ma / mb, confidence, t, ct, sr))
    return LatencyComparison(by_path["a"], by_path["b"], by_path["r"], throughput, reps, (int(a.size), int(b.size)))


@dataclass(frozen=True)
class RankTest:
    """Mann-Whitney U of refactored against original: p-value and P(refactored slower)."""

    u: float
    p: float
    slower_probability: float

    def to_dict(self) -> dict:
        """JSON-ready."""
        return {"u": _num(self.u), "p_value": _num(self.p), "p_refactored_slower": _num(self.slower_probability)}


def mann_whitney(original: np.ndarray, refactored: np.ndarray) -> RankTest:
    """Two-sided Mann-Whitney U (as Kayenta's judge runs it), asymptotic for large samples."""
    if original.size == 0 or refactored.size == 0:
        return RankTest(math.nan, math.nan, math.nan)
    result = sps.mannwhitneyu(refactored, original, alternative="two-sided", method="asymptotic")
    return RankTest(float(result.statistic), float(result.pvalue),
                    float(result.statistic) / (original.size * refactored.size))


@dataclass(frozen=True)
class SampleRatio:
    """Observed units per path against those the rollout percent predicts, chi-squared."""

    observed: tuple[int, int]
    expected: tuple[float, float]
    statistic: float
    p: float

    @property
    def mismatch(self) -> bool:
        """True when the split is off beyond chance (p < 0.001)."""
        return bool(self.p < SRM_P)

    def to_dict(self) -> dict:
        """JSON-ready."""
        return {"observed": {"original": self.observed[0], "refactored": self.observed[1]},
                "expected": {"original": _num(self.expected[0]), "refactored": _num(self.expected[1])},
                "chi2": _num(self.statistic), "p_value": _num(self.p), "mismatch": self.mismatch}


def sample_ratio(observed_original: int, observed_refactored: int, refactored_probabilities: np.ndarray) -> SampleRatio:
    """Chi-squared of the observed split against the expected one (each unit's chance of the
    refactored path is the rollout percent when it was routed)."""
    n = observed_original + observed_refactored
    expected_ref = float(np.sum(refactored_probabilities))
    expected = (n - expected_ref, expected_ref)
    observed = (observed_original, observed_refactored)
    if n == 0:
        return SampleRatio(observed, expected, math.nan, math.nan)
    if min(expected) <= 1e-9:  # everyone should be on one path: any unit on the other is a broken split
        broken = observed[expected.index(min(expected))] > 0
        return SampleRatio(observed, expected, math.inf if broken else 0.0, 0.0 if broken else 1.0)
    result = sps.chisquare(observed, expected)
    return SampleRatio(observed, expected, float(result.statistic), float(result.pvalue))


def _num(value: float) -> float | None:
    """A float for JSON (None for NaN or infinity)."""
    return None if value is None or not math.isfinite(value) else float(value)


__all__ = ["CONFIDENCE", "Difference", "Estimate", "LatencyComparison", "QUANTILES", "Rate", "RankTest", "SRM_P",
           "SampleRatio", "bootstrap_latency", "mann_whitney", "newcombe", "sample_ratio", "wilson"]
