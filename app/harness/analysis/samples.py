"""A window's uploads per route and path, in the shape every figure is computed from:

- `durations`: the duration of every settled upload with a known duration (seconds);
- `cells`: upload counts by (time bin, outcome, routing reason, sector), with the labels;
- per route, `units`: each percentage-routed user's last upload (time, path), for the
  sample-ratio check.

Each upload is one of: a success (`processed`, `staged`, `confirmed`, `discarded`), a
server error (failed with a portal-fault type: `database_error`, `processing_error`), a
client rejection (failed or rejected with any other type), or pending (`received`: still
running, or its process died; counted, not compared).

The same shape comes from plain rows (`samples_from_rows`, pure; tests and simulations)
or from the database's GROUP BY queries (loading.py, so a million records never become a
million Python tuples).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from app.harness.names import SERVER_ERRORS
from app.ingest.outcome import DIRECT, ORIGINAL, REFACTORED, ROUTES, STAGED

SUCCESS, SERVER_ERROR, CLIENT_ERROR, PENDING = 0, 1, 2, 3
OUTCOMES = ("success", "server_error", "client_error", "pending")
SUCCESS_STATUSES = ("processed", "staged", "confirmed", "discarded")
# Routing reasons that come from the sticky percentage (the ones the split is checked on).
BUCKET_REASONS = ("percentage", "off")
# A row, as tests write it by hand: time as epoch seconds.
COLUMNS = ("at", "route", "path", "status", "error_type", "duration", "sector", "user", "reason")
TIME_BINS = 48


def outcome_of(status: str | None, error_type: str | None) -> int:
    """SUCCESS / SERVER_ERROR / CLIENT_ERROR / PENDING of one record."""
    if status in SUCCESS_STATUSES:
        return SUCCESS
    if status == "received":
        return PENDING
    return SERVER_ERROR if error_type in SERVER_ERRORS else CLIENT_ERROR


def bin_edges(start: float, end: float, bins: int = TIME_BINS) -> np.ndarray:
    """The time bins' edges (epoch seconds)."""
    return np.linspace(start, end, bins + 1)


def bin_of(at: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Each time's bin index (clipped into the window)."""
    return np.clip(np.searchsorted(edges, at, side="right") - 1, 0, len(edges) - 2)


@dataclass(frozen=True, eq=False)
class Cells:
    """Upload counts by (time bin, outcome, reason code, sector code); -1 codes: none."""

    bin: np.ndarray
    outcome: np.ndarray
    reason: np.ndarray
    sector: np.ndarray
    n: np.ndarray

    @classmethod
    def empty(cls) -> Cells:
        """No uploads."""
        z = np.array([], dtype=np.int64)
        return cls(z, z, z, z, z)

    def total(self, mask: np.ndarray | None = None) -> int:
        """Uploads in the cells selected by `mask` (all by default)."""
        return int(self.n.sum() if mask is None else self.n[mask].sum())


@dataclass(frozen=True, eq=False)
class PathSamples:
    """One path's uploads on one route over the window."""

    path: str
    durations: np.ndarray
    cells: Cells
    reasons: tuple = ()
    sectors: tuple = ()

    @classmethod
    def empty(cls, path: str) -> PathSamples:
        """No uploads."""
        return cls(path, np.array([], dtype=float), Cells.empty())

    def __len__(self) -> int:
        return self.cells.total()

    def count(self, code: int) -> int:
        """How many uploads had outcome `code`."""
        return self.cells.total(self.cells.outcome == code)

    @property
    def settled(self) -> int:
        """Uploads that ended (everything but pending)."""
        return len(self) - self.count(PENDING)

    def latencies(self) -> np.ndarray:
        """Durations of settled uploads with a known duration (seconds)."""
        return self.durations


@dataclass(frozen=True, eq=False)
class RouteSamples:
    """Both paths' uploads on one route, the time bins, and the percentage-routed users'
    last uploads (`unit_at` epoch seconds, `unit_refactored` 0/1)."""

    route: str
    original: PathSamples
    refactored: PathSamples
    edges: np.ndarray = field(default_factory=lambda: bin_edges(0.0, 1.0))
    unit_at: np.ndarray = field(default_factory=lambda: np.array([], dtype=float))
    unit_refactored: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int8))
    paths: dict = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "paths", {ORIGINAL: self.original, REFACTORED: self.refactored})


def _codes(values: Sequence, labels: list) -> np.ndarray:
    index = {v: i for i, v in enumerate(labels)}
    return np.array([index.get(v, -1) if v not in (None, "") else -1 for v in values], dtype=np.int64)


def group_cells(bins: np.ndarray, outcome: np.ndarray, reason: np.ndarray, sector: np.ndarray) -> Cells:
    """Count uploads per distinct (bin, outcome, reason, sector)."""
    if bins.size == 0:
        return Cells.empty()
    keys = np.stack([bins, outcome, reason, sector], axis=1).astype(np.int64)
    unique, counts = np.unique(keys, axis=0, return_counts=True)
    return Cells(unique[:, 0], unique[:, 1], unique[:, 2], unique[:, 3], counts.astype(np.int64))


def samples_from_rows(rows: Iterable[Sequence], start: float, end: float, routes: Sequence[str] = ROUTES,
                      bins: int = TIME_BINS) -> dict[str, RouteSamples]:
    """{route: RouteSamples} from rows shaped as `COLUMNS` within [start, end) (epoch seconds)."""
    rows = [r for r in rows if start <= float(r[0]) < end]
    edges = bin_edges(start, end, bins)
    reasons = sorted({str(r[8]) for r in rows if r[8] not in (None, "")})
    sectors = sorted({str(r[6]) for r in rows if r[6] not in (None, "")})
    out = {}
    for route in routes:
        mine = [r for r in rows if r[1] == route]
        per_path = {}
        for path in (ORIGINAL, REFACTORED):
            sub = [r for r in mine if r[2] == path]
            at = np.array([float(r[0]) for r in sub], dtype=float)
            outcome = np.array([outcome_of(r[3], r[4]) for r in sub], dtype=np.int64)
            durations = np.array([float(r[5]) for r, o in zip(sub, outcome) if o != PENDING and r[5] is not None],
                                 dtype=float)
            cells = group_cells(bin_of(at, edges), outcome, _codes([r[8] for r in sub], reasons),
                                _codes([r[6] for r in sub], sectors))
            per_path[path] = PathSamples(path, durations, cells, tuple(reasons), tuple(sectors))
        last: dict[str, tuple[float, int]] = {}
        for r in mine:
            if r[8] in BUCKET_REASONS and r[7] is not None and (r[7] not in last or float(r[0]) >= last[r[7]][0]):
                last[r[7]] = (float(r[0]), int(r[2] == REFACTORED))
        unit_at = np.array([t for t, _ in last.values()], dtype=float)
        unit_ref = np.array([p for _, p in last.values()], dtype=np.int8)
        out[route] = RouteSamples(route, per_path[ORIGINAL], per_path[REFACTORED], edges, unit_at, unit_ref)
    return out


def samples_from_columns(columns, start: float, end: float, routes: Sequence[str] = ROUTES,
                         bins: int = TIME_BINS) -> dict[str, RouteSamples]:
    """{route: RouteSamples} from a mapping of `COLUMNS` to equal-length sequences (a simulation's output)."""
    names = COLUMNS
    return samples_from_rows(zip(*(columns[k] for k in names)), start, end, routes, bins)


__all__ = ["BUCKET_REASONS", "CLIENT_ERROR", "COLUMNS", "Cells", "DIRECT", "OUTCOMES", "PENDING", "PathSamples",
           "RouteSamples", "SERVER_ERROR", "STAGED", "SUCCESS", "TIME_BINS", "bin_edges", "bin_of", "group_cells",
           "outcome_of", "samples_from_columns", "samples_from_rows"]
