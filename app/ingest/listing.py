"""The lists staff browse: incidences (newest first, searched) and recent uploads (filtered).

Keyset paging: a page ends with a cursor naming its last row, and the next page starts
after it, so page 500 costs what page 1 does. Every order and filter has an index
(migration 0006); a page holds at most `MAX_PAGE` rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, false, or_, select, text

from app.ingest.database import Database
from app.ingest.models import Incidence, UploadedFile

PAGE = 50
MAX_PAGE = 200
INCIDENCES = Incidence.__table__
UPLOADS = UploadedFile.__table__


class BadCursor(ValueError):
    """A paging cursor that this module did not write."""


@dataclass(frozen=True)
class Page:
    """One page of rows and the cursor of the next (None on the last page)."""

    rows: tuple
    next_cursor: str | None


@dataclass(frozen=True)
class IncidenceSearch:
    """What /incidences filters on (all optional)."""

    id_incidence: int | None = None
    sector: str | None = None
    facility: str | None = None


@dataclass(frozen=True)
class UploadFilter:
    """What /uploads filters on (all optional)."""

    status: str | None = None
    route: str | None = None
    ingest_path: str | None = None


def page_size(requested: int | None) -> int:
    """The page size asked for, within 1..MAX_PAGE."""
    return PAGE if requested is None else max(1, min(MAX_PAGE, requested))


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
MICROSECOND = dt.timedelta(microseconds=1)


def _incidence_cursor(row) -> str:
    """`<microseconds since 1970 UTC>~<id>`: safe in a URL as it is."""
    stamp = row.updated_at if row.updated_at.tzinfo else row.updated_at.replace(tzinfo=dt.timezone.utc)
    return f"{(stamp - EPOCH) // MICROSECOND}~{row.id_incidence}"


def _read_incidence_cursor(cursor: str) -> tuple[dt.datetime, int]:
    try:
        micros, id_text = cursor.split("~")
        return EPOCH + int(micros) * MICROSECOND, int(id_text)
    except (ValueError, OverflowError):
        raise BadCursor(f"not a page cursor: {cursor[:40]!r}") from None


SEARCH_TABLE = "incidence_facility_search"  # SQLite's FTS5 trigram table (migration 0006)
SEARCH_CANDIDATES = 2000


def _sqlite_facility(db: Database, term: str):
    """The facility condition on SQLite: the incidences the trigram table finds, when the term
    is rare enough; a common term (or one too short for trigrams) reads rows newest first,
    which stops early because matches are dense. LIKE is case-blind there (ASCII)."""
    plain = INCIDENCES.c.facility_name.like(_like(term), escape="\\")
    if len(term) < 3 or any(ch in term for ch in "%_\\"):
        return plain
    found = text(f"SELECT rowid FROM {SEARCH_TABLE} WHERE facility_name LIKE :pattern LIMIT :most")
    with db.transaction() as conn:
        ids = conn.execute(found, {"pattern": f"%{term}%", "most": SEARCH_CANDIDATES + 1}).scalars().all()
    if len(ids) > SEARCH_CANDIDATES:
        return plain
    return and_(INCIDENCES.c.id_incidence.in_(ids), plain) if ids else false()


def list_incidences(db: Database, search: IncidenceSearch, *, after: str | None = None, limit: int = PAGE) -> Page:
    """Incidences last updated first, matching `search`, after the cursor `after`."""
    c = INCIDENCES.c
    query = select(c.id_incidence, c.sector, c.facility_name, c.updated_at, c.updated_by, c.created_at)
    if search.id_incidence is not None:
        query = query.where(c.id_incidence == search.id_incidence)
    if search.sector:
        query = query.where(c.sector == search.sector)
    if search.facility:
        if db.dialect == "sqlite":
            query = query.where(_sqlite_facility(db, search.facility))
        else:  # ILIKE: the trigram index answers it (migration 0006)
            query = query.where(c.facility_name.ilike(_like(search.facility), escape="\\"))
    if after:
        stamp, id_incidence = _read_incidence_cursor(after)
        if db.dialect == "sqlite":  # SQLite keeps the UTC time without its zone
            stamp = stamp.astimezone(dt.timezone.utc).replace(tzinfo=None)
        query = query.where(or_(c.updated_at < stamp, and_(c.updated_at == stamp, c.id_incidence < id_incidence)))
    query = query.order_by(c.updated_at.desc(), c.id_incidence.desc()).limit(limit + 1)
    with db.transaction() as conn:
        rows = conn.execute(query).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(tuple(rows), _incidence_cursor(rows[-1]) if more else None)


def list_uploads(db: Database, where: UploadFilter, *, after: str | None = None, limit: int = PAGE) -> Page:
    """Uploads newest first, matching `where`, after the cursor `after` (an upload id)."""
    c = UPLOADS.c
    query = select(c.id, c.original_filename, c.status, c.description, c.error_type, c.route, c.ingest_path,
                   c.user, c.size_bytes, c.id_incidence, c.created_at, c.updated_at,
                   c.warnings.is_not(None).label("has_warnings"))
    if where.status:
        query = query.where(c.status == where.status)
    if where.route:
        query = query.where(c.route == where.route)
    if where.ingest_path:
        query = query.where(c.ingest_path == where.ingest_path)
    if after:
        try:
            query = query.where(c.id < int(after))
        except ValueError:
            raise BadCursor(f"not a page cursor: {after[:40]!r}") from None
    query = query.order_by(c.id.desc()).limit(limit + 1)
    with db.transaction() as conn:
        rows = conn.execute(query).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(tuple(rows), str(rows[-1].id) if more else None)


def recent_warnings(db: Database, id_incidence: int, limit: int = 5) -> tuple:
    """The latest uploads of an incidence that had parse warnings: (id, when, who, file, status, route, warnings)."""
    c = UPLOADS.c
    query = (select(c.id, c.created_at, c.user, c.original_filename, c.status, c.route, c.warnings)
             .where(c.id_incidence == id_incidence, c.warnings.is_not(None))
             .order_by(c.id.desc()).limit(limit))
    with db.transaction() as conn:
        return tuple(conn.execute(query).all())
