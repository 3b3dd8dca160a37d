"""Per-upload samples of one window, per route and path, as numpy columns.

Each upload is one of: a success (the record `processed`, `staged`, `confirmed` or
`discarded`), a server error (failed with a portal-fault type: `database_error`,
`processing_error`), a client rejection (failed or rejected with any other type), or
pending (`received`: still running, or its process died; counted, not compared).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from app.harness.names import SERVER_ERRORS
from app.ingest.outcome import DIRECT, ORIGINAL, REFACTORED, ROUTES, STAGED

SUCCESS, SERVER_ERROR, CLIENT_ERROR, PENDING = 0, 1, 2, 3
SUCCESS_STATUSES = ("processed", "staged", "confirmed", "discarded")
# Routing reasons that come from the sticky percentage (the ones the split is checked on).
BUCKET_REASONS = ("percentage", "off")
# A row, as loading.py selects it and tests write it by hand.
COLUMNS = ("at", "route", "path", "status", "error_type", "duration", "sector", "user", "reason")


def outcome_codes(status: np.ndarray, error_type: np.ndarray) -> np.ndarray:
    """SUCCESS / SERVER_ERROR / CLIENT_ERROR / PENDING for each record."""
    codes = np.full(status.shape, CLIENT_ERROR, dtype=np.int8)
    codes[np.isin(status, SUCCESS_STATUSES)] = SUCCESS
    codes[(codes == CLIENT_ERROR) & np.isin(error_type, SERVER_ERRORS)] = SERVER_ERROR
    codes[status == "received"] = PENDING
    return codes


def factorize(values, none: object = None) -> tuple[np.ndarray, tuple]:
    """(codes, labels): each value's index in `labels` (first-seen order), -1 for `none`.

    A dict does this in one pass, far faster than sorting a million Python strings."""
    index: dict = {}
    codes = np.fromiter((-1 if v is none else index.setdefault(v, len(index)) for v in values), dtype=np.int32,
                        count=len(values))
    return codes, tuple(index)


@dataclass(frozen=True, eq=False)
class PathSamples:
    """One path's uploads on one route, sorted by time: time (epoch s), outcome code,
    duration (s; NaN unknown), and sector, user and routing reason as codes into the
    labels `sectors`, `users`, `reasons` (-1: none)."""

    path: str
    at: np.ndarray
    outcome: np.ndarray
    duration: np.ndarray
    sector: np.ndarray
    user: np.ndarray
    reason: np.ndarray
    sectors: tuple = ()
    users: tuple = ()
    reasons: tuple = ()

    @classmethod
    def empty(cls, path: str) -> PathSamples:
        """No uploads."""
        none = np.array([], dtype=np.int32)
        return cls(path, np.array([], dtype=float), np.array([], dtype=np.int8), np.array([], dtype=float),
                   none, none, none)

    def __len__(self) -> int:
        return int(self.at.size)

    def count(self, code: int) -> int:
        """How many uploads had outcome `code`."""
        return int(np.count_nonzero(self.outcome == code))

    @property
    def settled(self) -> int:
        """Uploads that ended (everything but pending)."""
        return len(self) - self.count(PENDING)

    def latencies(self) -> np.ndarray:
        """Durations of settled uploads with a known duration (seconds)."""
        keep = (self.outcome != PENDING) & ~np.isnan(self.duration)
        return self.duration[keep]

    def reason_mask(self, names) -> np.ndarray:
        """Uploads whose routing reason is one of `names`."""
        wanted = [i for i, r in enumerate(self.reasons) if r in names]
        return np.isin(self.reason, wanted)

    def where(self, mask: np.ndarray) -> PathSamples:
        """The uploads selected by `mask`."""
        return PathSamples(self.path, self.at[mask], self.outcome[mask], self.duration[mask], self.sector[mask],
                           self.user[mask], self.reason[mask], self.sectors, self.users, self.reasons)


@dataclass(frozen=True, eq=False)
class RouteSamples:
    """Both paths' uploads on one route."""

    route: str
    original: PathSamples
    refactored: PathSamples
    paths: dict = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "paths", {ORIGINAL: self.original, REFACTORED: self.refactored})


def samples_from_rows(rows: Iterable[Sequence], routes: Sequence[str] = ROUTES) -> dict[str, RouteSamples]:
    """{route: RouteSamples} from rows shaped as `COLUMNS` (at as epoch seconds)."""
    rows = list(rows)
    if not rows:
        return {r: RouteSamples(r, PathSamples.empty(ORIGINAL), PathSamples.empty(REFACTORED)) for r in routes}
    at, route, path, status, error_type, duration, sector, user, reason = zip(*rows)
    return samples_from_columns(np.array(at, dtype=float), route, path, status, error_type,
                                np.array(duration, dtype=float), sector, user, reason, routes)


def samples_from_columns(at, route, path, status, error_type, duration, sector, user, reason,
                         routes: Sequence[str] = ROUTES) -> dict[str, RouteSamples]:
    """{route: RouteSamples} from equal-length columns (sequences or numpy arrays)."""
    at = np.asarray(at, dtype=float)
    duration = np.asarray(duration, dtype=float)  # None becomes NaN
    route_codes, route_labels = factorize(route)
    path_codes, path_labels = factorize(path)
    status_codes, status_labels = factorize(status)
    type_codes, type_labels = factorize(error_type)
    sector_codes, sectors = factorize(sector)
    user_codes, users = factorize(user)
    reason_codes, reasons = factorize(reason)
    sector_codes[np.isin(sector_codes, [i for i, s in enumerate(sectors) if s == ""])] = -1
    outcome = outcome_codes(np.array(status_labels + (None,), dtype=object)[status_codes],
                            np.array(type_labels + (None,), dtype=object)[type_codes])
    order = np.argsort(at, kind="stable")
    result = {}
    for name in routes:
        on_route = route_codes[order] == (route_labels.index(name) if name in route_labels else -2)
        per_path = {}
        for p in (ORIGINAL, REFACTORED):
            chosen = order[on_route & (path_codes[order] == (path_labels.index(p) if p in path_labels else -2))]
            per_path[p] = PathSamples(p, at[chosen], outcome[chosen], duration[chosen], sector_codes[chosen],
                                      user_codes[chosen], reason_codes[chosen], sectors, users, reasons)
        result[name] = RouteSamples(name, per_path[ORIGINAL], per_path[REFACTORED])
    return result


__all__ = ["BUCKET_REASONS", "CLIENT_ERROR", "COLUMNS", "DIRECT", "PENDING", "PathSamples", "RouteSamples",
           "SERVER_ERROR", "STAGED", "SUCCESS", "factorize", "outcome_codes", "samples_from_columns",
           "samples_from_rows"]
