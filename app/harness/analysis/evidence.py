"""The other evidence a comparison joins in, as plain data: the rollout percent's history
and the shadow mismatches of the window."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PercentHistory:
    """The rollout percent of a route's flag over time: `(epoch seconds, percent)` changes,
    oldest first; before the first change the percent was `initial`."""

    changes: tuple[tuple[float, float], ...] = ()
    initial: float = 0.0

    def at(self, times: np.ndarray) -> np.ndarray:
        """The percent in force at each of `times`."""
        if not self.changes:
            return np.full(np.shape(times), self.initial, dtype=float)
        starts = np.array([t for t, _ in self.changes], dtype=float)
        values = np.array([self.initial] + [p for _, p in self.changes], dtype=float)
        return values[np.searchsorted(starts, times, side="right")]

    def to_dict(self) -> dict:
        """JSON-ready."""
        return {"initial": self.initial, "changes": [{"at": t, "percent": p} for t, p in self.changes]}


@dataclass(frozen=True)
class Mismatch:
    """One stored shadow mismatch: when, on which route, which fields differed and how."""

    at: float
    route: str
    control_path: str
    differences: tuple[dict, ...]

    @property
    def fields(self) -> tuple[str, ...]:
        """The differing fields' names."""
        return tuple(str(d.get("field")) for d in self.differences)


@dataclass(frozen=True)
class ShadowRuns:
    """Shadow runs of the window by result (from Prometheus), when known."""

    counts: dict[str, float]

    def rate(self, result: str) -> float | None:
        """The share of compared runs (match + mismatch + ignored) with `result`."""
        compared = sum(self.counts.get(k, 0.0) for k in ("match", "mismatch", "ignored"))
        return self.counts.get(result, 0.0) / compared if compared else None


def mismatches_on(mismatches: Sequence[Mismatch], route: str) -> list[Mismatch]:
    """The mismatches of one route, oldest first."""
    return sorted((m for m in mismatches if m.route == route), key=lambda m: m.at)
