"""Upload records written straight into `uploaded_files`, and a clock that tests move."""

from __future__ import annotations

import datetime as dt

import numpy as np
from sqlalchemy import insert

from app.ingest.models import UploadedFile

T0 = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)


class Clock:
    """A clock that moves only when told."""

    def __init__(self, start: dt.datetime = T0) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> dt.datetime:
        self.now += dt.timedelta(seconds=seconds)
        return self.now


def write_uploads(engine, start: dt.datetime, seconds: float, *, rate: float = 5.0, share: float = 0.0,
                  route: str = "direct", error_rate: float = 0.0, refactored_error_rate: float | None = None,
                  latency: float = 1.0, seed: int = 0, pinned: bool = False) -> int:
    """Uploads over `seconds` from `start`: `share` of them refactored; returns how many."""
    rng = np.random.default_rng(seed)
    n = int(rate * seconds)
    rows = []
    for i in range(n):
        refactored = rng.random() < share
        p_err = refactored_error_rate if refactored and refactored_error_rate is not None else error_rate
        failed = rng.random() < p_err
        duration = 0.05 * float(np.exp(0.3 * rng.standard_normal())) * (latency if refactored else 1.0)
        at = start + dt.timedelta(seconds=seconds * i / max(1, n))
        rows.append({"original_filename": "form.xlsx", "status": "failed" if failed else "processed",
                     "error_type": "processing_error" if failed else None, "route": route,
                     "ingest_path": "refactored" if refactored else "original", "created_at": at, "updated_at": at,
                     "duration_seconds": duration, "user": f"u{seed}-{i}",
                     "decision_reason": "pinned" if pinned else ("percentage" if refactored else "off")})
    if rows:
        with engine.begin() as conn:
            conn.execute(insert(UploadedFile.__table__), rows)
    return n
