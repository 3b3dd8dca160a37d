"""Where the gates' figures come from: the `uploaded_files` records in the portal's database.

One aggregate query per window (routed uploads only: a pinned URL's uploads are QA or
benchmarks, not the rollout's split; in-flight `received` records have no outcome yet),
answered from the (route, created_at) index of migration 0004, plus the shadow mismatches
of the same route and window. Every window says its source (`uploaded_files@<database>`).
The window clause and the split's routing reasons are the analysis core's
(`analysis.loading.window_condition`, `analysis.samples.BUCKET_REASONS`), so a report and
a gate read the same uploads; the gates' aggregate stays one query (the tick's budget).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, and_, case, false, func, or_, select

from app.harness.analysis.loading import window_condition
from app.harness.analysis.samples import BUCKET_REASONS
from app.harness.analysis.window import Window as Span
from app.harness.names import SERVER_ERRORS
from app.harness.rollout.gates import PathCounts, Window
from app.ingest.models import UploadedFile
from shadow.records import mismatches

PINNED = "pinned"
SPLIT_REASONS = BUCKET_REASONS  # the flag's sticky percentage placed this user (the analysis core's list)
BASELINE_LIMIT = 20_000  # the newest original durations a latency threshold is fixed from


class DatabaseSource:
    """Window counts for the gates, read from `uploaded_files`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        url = engine.url
        self.name = f"uploaded_files@{url.get_backend_name()}:{url.database or ''}".rstrip(":")

    def _routed(self, route: str, start: dt.datetime, end: dt.datetime):
        u = UploadedFile.__table__.c
        if end <= start:
            return false()
        # the analysis core's window clause (route, [start, end) in UTC, the window index)
        return and_(window_condition(Span(start, end), route), u.status != "received",
                    or_(u.decision_reason.is_(None), u.decision_reason != PINNED))

    def window(self, route: str, start: dt.datetime, end: dt.datetime, *, threshold_s: float | None,
               latency_start: dt.datetime | None) -> Window:
        """Per path: uploads, server errors, and (since latency_start) timed and slow uploads."""
        u = UploadedFile.__table__.c
        one = 1
        timed_when = u.duration_seconds.isnot(None)
        if latency_start is not None:
            timed_when = and_(timed_when, u.created_at >= latency_start)
        columns = [u.ingest_path, func.count(),
                   func.sum(case((u.error_type.in_(SERVER_ERRORS), one), else_=0))]
        if threshold_s is not None and latency_start is not None:
            columns += [func.sum(case((timed_when, one), else_=0)),
                        func.sum(case((and_(timed_when, u.duration_seconds > threshold_s), one), else_=0))]
        query = select(*columns).where(self._routed(route, start, end)).group_by(u.ingest_path)
        # The split is decided per user: count the users the percentage rule placed (not the
        # allow or deny lists), each once, so a user's many uploads do not look like a mismatch.
        users = (select(u.ingest_path, func.count(func.distinct(u.user)))
                 .where(self._routed(route, start, end), u.decision_reason.in_(SPLIT_REASONS), u.user.isnot(None))
                 .group_by(u.ingest_path))
        m = mismatches.c
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
            placed = dict(conn.execute(users).all())
            shadowed = conn.execute(select(func.count()).select_from(mismatches).where(
                m.route == route, m.at >= start, m.at < end)).scalar_one()
        counts = {"original": PathCounts(), "refactored": PathCounts()}
        for row in rows:
            if row[0] in counts:
                counts[row[0]] = PathCounts(int(row[1]), int(row[2] or 0), int(row[3] or 0) if len(row) > 3 else 0,
                                            int(row[4] or 0) if len(row) > 4 else 0, int(placed.get(row[0], 0)))
        return Window(route, start, end, counts["original"], counts["refactored"], self.name, threshold_s,
                      latency_start, int(shadowed))

    def original_durations(self, route: str, start: dt.datetime, end: dt.datetime) -> list[float]:
        """The newest original-path durations between start and end (routed uploads)."""
        u = UploadedFile.__table__.c
        query = (select(u.duration_seconds).where(self._routed(route, start, end), u.ingest_path == "original",
                                                  u.duration_seconds.isnot(None))
                 .order_by(u.created_at.desc()).limit(BASELINE_LIMIT))
        with self.engine.connect() as conn:
            return [float(value) for (value,) in conn.execute(query)]
