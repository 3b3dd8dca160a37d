"""The thin edge: a window's evidence from the portal's database and the flag store.

Three queries over the window (`ix_uploaded_files_window (created_at, route,
ingest_path)` serves a narrow one; for a window holding most of the table the database
rightly scans it) build the samples (samples.py):

1. the window's distinct routing reasons and sectors (a few dozen rows);
2. every upload as one integer packing (time bin, route, path, outcome, reason, sector),
   computed by the database, with its duration. On SQLite each upload comes back as
   those two numbers and numpy counts the cells (two numeric columns are the cheapest
   rows a driver hands over; SQLite's GROUP BY would sort the million rows); PostgreSQL
   counts them itself in a parallel hash aggregate, and groups durations to 0.1 ms;
3. each percentage-routed user's last upload (for the split check).

Times are epoch seconds computed by the database. The rollout controller reads its
gates' samples through `load_samples` too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

import numpy as np
from sqlalchemy import BigInteger, Float, Integer, and_, case, cast, func, literal_column, select
from sqlalchemy.engine import Engine

from app.harness.analysis.evidence import Mismatch, PercentHistory
from app.harness.analysis.samples import (
    BUCKET_REASONS,
    CLIENT_ERROR,
    PENDING,
    SERVER_ERROR,
    SUCCESS,
    SUCCESS_STATUSES,
    TIME_BINS,
    Cells,
    PathSamples,
    RouteSamples,
    bin_edges,
    group_cells,
)
from app.harness.analysis.window import Window
from app.harness.names import ROUTE_FLAGS, SERVER_ERRORS
from app.ingest.models import UploadedFile
from app.ingest.outcome import ORIGINAL, REFACTORED, ROUTES

UPLOADS = UploadedFile.__table__
DURATION_STEP = 1e-4  # PostgreSQL groups durations to 0.1 ms
# progress(text) as each query finishes
Progress = Callable[[str], None]


def _epoch(engine: Engine, column):
    """Seconds since 1970 of a timestamp column, computed by the database."""
    if engine.dialect.name == "sqlite":  # stored as UTC text; julianday parses it in C
        return (func.julianday(column) - 2440587.5) * 86400.0
    return cast(func.extract("epoch", column), Float)


def _bound(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.timezone.utc)


def window_condition(window: Window, route: str | None = None, scan: bool = False):
    """The WHERE clause of a window's uploads, served by the window index; with `scan`
    (SQLite, a window holding most of the table) the table is read in order instead,
    since each index entry would cost a lookup in the table (`+column` hides the index)."""
    created = UPLOADS.c.created_at
    if scan:
        created = literal_column(f"+{UPLOADS.name}.created_at", type_=created.type)
    cond = and_(created >= _bound(window.start), created < _bound(window.end))
    return and_(cond, UPLOADS.c.route == route) if route else cond


def _n(value: int):
    return literal_column(str(int(value)))


def _outcome():
    c = UPLOADS.c
    return case((c.status.in_(SUCCESS_STATUSES), _n(SUCCESS)), (c.status == "received", _n(PENDING)),
                (c.error_type.in_(SERVER_ERRORS), _n(SERVER_ERROR)), else_=_n(CLIENT_ERROR))


def _code(column, labels: Sequence[str]):
    """1 + the label's index, 0 for none or another value."""
    if not labels:
        return _n(0)
    return case({label: _n(i + 1) for i, label in enumerate(labels)}, value=column, else_=_n(0))


def labels_query(window: Window, route: str | None = None, scan: bool = False):
    """The window's distinct (reason, sector) pairs."""
    c = UPLOADS.c
    return select(c.decision_reason, c.sector).where(window_condition(window, route, scan)).distinct()


def packed_query(engine: Engine, window: Window, route: str | None, reasons: Sequence[str], sectors: Sequence[str],
                 bins: int = TIME_BINS, scan: bool = False):
    """Each upload as (packed cell key, duration): key = bin + bins * (route + 2 * (path + 2 *
    (outcome + 4 * (reason + R * sector)))), reason and sector as 1 + label index (0: none)."""
    c = UPLOADS.c
    width = window.seconds / bins
    offset = _epoch(engine, c.created_at) - literal_column(repr(window.start.timestamp()))
    bucket = cast(func.floor(offset / literal_column(repr(width))), Integer) if engine.dialect.name != "sqlite" \
        else cast(offset / literal_column(repr(width)), Integer)
    route_code = case((c.route == ROUTES[1], _n(1)), else_=_n(0))
    path_code = case((c.ingest_path == REFACTORED, _n(1)), else_=_n(0))
    r = len(reasons) + 1
    key = bucket + _n(bins) * (route_code + _n(2) * (path_code + _n(2) * (
        _outcome() + _n(4) * (_code(c.decision_reason, reasons) + _n(r) * _code(c.sector, sectors)))))
    return select(key.label("k"), c.duration_seconds).where(window_condition(window, route, scan))


def grouped_queries(engine: Engine, window: Window, route: str | None, reasons: Sequence[str],
                    sectors: Sequence[str], bins: int = TIME_BINS):
    """PostgreSQL's way (a parallel hash aggregate, no million rows shipped): the packed
    keys with their counts, and the durations to 0.1 ms with theirs."""
    packed = packed_query(engine, window, route, reasons, sectors, bins).subquery()
    keys = select(packed.c.k, func.count()).group_by(packed.c.k)
    c = UPLOADS.c
    step = func.round(c.duration_seconds / literal_column(repr(DURATION_STEP)))
    route_code = case((c.route == ROUTES[1], _n(1)), else_=_n(0))
    path_code = case((c.ingest_path == REFACTORED, _n(1)), else_=_n(0))
    durations = (select(route_code + _n(2) * path_code, step, func.count())
                 .where(window_condition(window, route), c.status != "received", c.duration_seconds.is_not(None))
                 .group_by(literal_column("1"), literal_column("2")))
    return keys, durations


def units_query(engine: Engine, window: Window, route: str | None = None, scan: bool = False):
    """Each percentage-routed user's last upload in the window as (route, packed): packed =
    2 * milliseconds since 1970 + (1 if on the refactored path), the maximum per user, so
    one hash aggregate (PostgreSQL) finds both the time and the path of the last upload
    without sorting the rows, and the user ids never leave the database."""
    c = UPLOADS.c
    where = and_(window_condition(window, route, scan), c.decision_reason.in_(BUCKET_REASONS), c.user.is_not(None))
    millis = cast(_epoch(engine, c.created_at) * literal_column("1000.0"), BigInteger)
    packed = millis * _n(2) + case((c.ingest_path == REFACTORED, _n(1)), else_=_n(0))
    return select(c.route, func.max(packed)).where(where).group_by(c.route, c.user)


def count_uploads(engine: Engine, window: Window, route: str | None = None) -> int:
    """How many uploads the window holds."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(UPLOADS).where(window_condition(window, route)))
                   .scalar_one())


def _numeric_rows(conn, query) -> np.ndarray:
    """(n, 2) float array of a two-column numeric query, fetched through the driver in chunks."""
    compiled = query.compile(conn.engine, compile_kwargs={"literal_binds": True})
    cursor = conn.connection.driver_connection.cursor()
    try:
        cursor.execute(str(compiled))
        parts = []
        while True:
            chunk = cursor.fetchmany(200_000)
            if not chunk:
                break
            parts.append(np.array(chunk, dtype=float))  # None (no duration) becomes NaN
    finally:
        cursor.close()
    return np.concatenate(parts) if parts else np.zeros((0, 2))


def load_samples(engine: Engine, window: Window, route: str | None = None, progress: Progress | None = None,
                 bins: int = TIME_BINS) -> dict[str, RouteSamples]:
    """{route: RouteSamples} of the window (one route, or both)."""
    routes: Sequence[str] = (route,) if route else ROUTES
    say = progress or (lambda text: None)
    with engine.connect() as conn:
        # the window's share of the table, from the index alone (no table reads)
        inside = conn.execute(select(func.count()).select_from(UPLOADS).where(window_condition(window, route))).scalar_one()
        total = conn.execute(select(func.max(UPLOADS.c.id))).scalar_one() or 0
        scan = engine.dialect.name == "sqlite" and inside > 0.3 * total
        pairs = conn.execute(labels_query(window, route, scan)).all()
        reasons = tuple(sorted({r for r, _ in pairs if r not in (None, "")}))
        sectors = tuple(sorted({s for _, s in pairs if s not in (None, "")}))
        if engine.dialect.name == "sqlite":
            rows = _numeric_rows(conn, packed_query(engine, window, route, reasons, sectors, bins, scan))
            key, weight, duration = rows[:, 0].astype(np.int64), None, rows[:, 1]
            route_path = None
        else:
            keys_query, durations_query = grouped_queries(engine, window, route, reasons, sectors, bins)
            counted = np.array(conn.execute(keys_query).all(), dtype=np.int64).reshape(-1, 2)
            key, weight = counted[:, 0], counted[:, 1]
            steps = np.array(conn.execute(durations_query).all(), dtype=float).reshape(-1, 3)
            route_path = steps[:, 0].astype(np.int64)
            duration = steps[:, 1] * DURATION_STEP
            repeats = steps[:, 2].astype(np.int64)
        say(f"read {int(weight.sum()) if weight is not None else len(key):,} uploads")
        units = conn.execute(units_query(engine, window, route, scan)).all()
        say(f"read {len(units):,} percentage-routed users' last uploads")
    bin_ = np.clip(key % bins, 0, bins - 1)
    rest = key // bins
    route_code, rest = rest % 2, rest // 2
    path_code, rest = rest % 2, rest // 2
    outcome, rest = rest % 4, rest // 4
    r = len(reasons) + 1
    reason, sector = rest % r - 1, rest // r - 1
    out = {}
    for name in routes:
        per_path = {}
        for path in (ORIGINAL, REFACTORED):
            mine = (route_code == ROUTES.index(name)) & (path_code == (path == REFACTORED))
            if weight is None:
                settled = mine & (outcome != PENDING) & ~np.isnan(duration)
                cells = group_cells(bin_[mine], outcome[mine], reason[mine], sector[mine]) if mine.any() else Cells.empty()
                values = duration[settled]
            else:
                cells = Cells(bin_[mine], outcome[mine], reason[mine], sector[mine], weight[mine])
                chosen = route_path == ROUTES.index(name) + 2 * (path == REFACTORED)
                values = np.repeat(duration[chosen], repeats[chosen])
            per_path[path] = PathSamples(path, values, cells, reasons, sectors)
        last = np.array([int(u[1]) for u in units if u[0] == name], dtype=np.int64)
        out[name] = RouteSamples(name, per_path[ORIGINAL], per_path[REFACTORED],
                                 bin_edges(window.start.timestamp(), window.end.timestamp(), bins),
                                 (last // 2) / 1000.0, (last % 2).astype(np.int8))
    return out


def load_mismatches(engine: Engine, window: Window, route: str | None = None, limit: int = 100_000) -> list[Mismatch]:
    """The window's stored shadow mismatches (the shadow tables are revision 0002's)."""
    from shadow.records import mismatches as table

    query = (select(_epoch(engine, table.c.at), table.c.route, table.c.control_path, table.c.differences)
             .where(table.c.at >= _bound(window.start), table.c.at < _bound(window.end))
             .order_by(table.c.at).limit(limit))
    if route:
        query = query.where(table.c.route == route)
    with engine.connect() as conn:
        return [Mismatch(float(at), r, control, tuple(diffs or ())) for at, r, control, diffs in conn.execute(query)]


def percent_history(entries, window: Window, current: float) -> PercentHistory:
    """The percent over the window from a flag's audit entries (any order; `percent` actions)."""
    changes = sorted((e.at.timestamp(), float(e.new), float(e.old) if e.old is not None else 0.0)
                     for e in entries if e.action == "percent" and e.new is not None)
    if not changes:
        return PercentHistory((), current)
    start = window.start.timestamp()
    before = [c for c in changes if c[0] <= start]
    initial = before[-1][1] if before else changes[0][2]
    inside = tuple((t, new) for t, new, _ in changes if start < t < window.end.timestamp())
    return PercentHistory(inside, initial)


def load_percent_history(flags, route: str, window: Window) -> PercentHistory | None:
    """The rollout percent of `route`'s flag over the window, from the flag store (None if unreadable)."""
    flag = ROUTE_FLAGS[route]
    try:
        entries = flags.history(flag=flag, action="percent", limit=1000)
        current = flags.get(flag).percent
    except Exception:  # noqa: BLE001 - the report still runs, without the split check
        return None
    return percent_history(entries, window, current)
