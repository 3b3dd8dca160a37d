"""Always-valid sequential tests: checked after every upload, their error rate holds.

- `difference_test`: the mixture sequential probability ratio test (mSPRT, Robbins 1970;
  Johari, Pekelis and Walsh, "Always valid inference", 2017) for the difference of two
  proportions, refactored minus original, with a normal mixture N(margin, tau^2) over the
  difference and the normal approximation of the two sample means. Its likelihood ratio

      L_n = sqrt(V / (V + tau^2)) * exp(tau^2 (d - margin)^2 / (2 V (V + tau^2)))

  (d the observed difference, V its estimated variance) is a martingale under the null, so
  by Ville's inequality P(sup_n L_n >= 1/alpha) <= alpha: rejecting the first time it
  crosses 1/alpha keeps the false-rejection rate at alpha however often it is looked at.
  The mixture is one-sided (a half-normal above the margin): only evidence that refactored
  is worse counts. The two-sided version, inverted, gives the confidence sequence shown
  with each result (`lower`, `upper`), valid at every n at once.
- `ratio_test`: sample ratio mismatch, a beta-binomial mixture Bayes factor against the
  split the flag promises (the two-category case of Lindon and Malek's anytime-valid
  multinomial test): an exact likelihood-ratio martingale under the null, no approximation.

Both take plain counts and return a frozen `SequentialResult`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.special import betaln, log_ndtr


@dataclass(frozen=True)
class SequentialResult:
    """One look at a sequential test: the statistic, its bound, and whether it rejected."""

    log_lr: float  # log of the mixture likelihood ratio (Bayes factor)
    bound: float  # log(1 / alpha): reject at or above
    reject: bool
    estimate: float  # the observed difference (or refactored share)
    lower: float  # always-valid confidence sequence at alpha
    upper: float

    def to_dict(self) -> dict:
        """Rounded figures for evidence records."""
        return {"log_lr": round(self.log_lr, 4), "bound": round(self.bound, 4), "reject": self.reject,
                "estimate": round(self.estimate, 6), "lower": round(self.lower, 6), "upper": round(self.upper, 6)}


MIN_N = 30  # no rejection before each sample has this many: the normal approximation needs them


def _rate(events: int, n: int) -> float:
    # Shrunk half an event towards 1/2, so zero events still has a variance (no V = 0).
    return (events + 0.5) / (n + 1.0)


def difference_test(original_events: int, original_n: int, refactored_events: int, refactored_n: int, *,
                    margin: float, tau: float, alpha: float) -> SequentialResult:
    """mSPRT of H0: p_refactored - p_original <= margin, rejected when refactored is worse."""
    bound = math.log(1.0 / alpha)
    if original_n <= 0 or refactored_n <= 0:
        return SequentialResult(0.0, bound, False, 0.0, -1.0, 1.0)
    p_o, p_r = original_events / original_n, refactored_events / refactored_n
    # The variance of the difference at the null's boundary (refactored = original + margin),
    # as a score test does: right under H0, where the error rate is decided, and not
    # inflated by a regression's own variance, which would blunt the test exactly when needed.
    s_o = _rate(original_events, original_n)
    s_r = min(1.0 - 1e-6, max(1e-6, s_o + margin))
    variance = s_o * (1 - s_o) / original_n + s_r * (1 - s_r) / refactored_n
    tau2 = tau * tau
    d = p_r - p_o
    # One-sided: the mixture is a half-normal over differences above the margin, so only
    # evidence of refactored being worse counts (twice the density, the normal's tail).
    # A continuity correction (half an event on each side): few events are lumpy, and without
    # it the normal approximation rejects too often at small n.
    z = (d - margin - 0.5 / refactored_n - 0.5 / original_n) / math.sqrt(variance)
    shrink = tau2 / (variance + tau2)
    log_lr = (math.log(2.0) + 0.5 * math.log(variance / (variance + tau2)) + 0.5 * z * z * shrink
              + float(log_ndtr(z * math.sqrt(shrink))))
    half = math.sqrt(variance * (variance + tau2) / tau2 * (2 * bound + math.log((variance + tau2) / variance)))
    reject = bool(d > margin and log_lr >= bound and min(original_n, refactored_n) >= MIN_N)
    return SequentialResult(float(log_lr), bound, reject, float(d), float(max(-1.0, d - half)), float(min(1.0, d + half)))


def ratio_test(refactored_n: int, total_n: int, expected_share: float, *, alpha: float,
               concentration: float = 1000.0) -> SequentialResult:
    """Anytime-valid SRM test of H0: the refactored share of uploads is `expected_share`.

    The alternative is a Beta(c * share, c * (1 - share)) mixture around the expected share;
    `concentration` c sets how far from it the test looks (1000: deviations of a few points).
    """
    bound = math.log(1.0 / alpha)
    if total_n <= 0 or not 0.0 < expected_share < 1.0:
        return SequentialResult(0.0, bound, False, expected_share, 0.0, 1.0)
    x, n = refactored_n, total_n
    a, b = concentration * expected_share, concentration * (1 - expected_share)
    log_marginal = betaln(x + a, n - x + b) - betaln(a, b)
    log_null = x * math.log(expected_share) + (n - x) * math.log(1 - expected_share)
    log_bf = float(log_marginal - log_null)
    share = x / n
    # A normal-approximation band for display only; the decision is the Bayes factor's.
    half = math.sqrt(share * (1 - share) / n * (2 * bound + math.log(1 + n / concentration))) if 0 < share < 1 else 1.0
    return SequentialResult(log_bf, bound, bool(log_bf >= bound), share, max(0.0, share - half), min(1.0, share + half))
