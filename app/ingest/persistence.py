"""Writing to the database: upload records, merges into incidences, confirmed staged fields.

No lost update: a merge locks the incidence row (PostgreSQL `FOR UPDATE`, SQLite's write
lock via `BEGIN IMMEDIATE`) and recomputes the plan against the row as locked, so two
uploads for one incidence at the same moment end as if one ran after the other. Two
first uploads of a new incidence race on the insert; the loser retries against the row
the winner wrote.

The write path uses SQLAlchemy Core on the ORM's tables: an upload writes a few dozen
rows and the ORM's unit of work would cost more than the rest of the upload.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from sqlalchemy import Connection, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from app.ingest.database import Database, public_reason
from app.ingest.errors import DatabaseUnavailable, StagedConflict, UploadAlreadySettled
from app.ingest.merge import MergePlan, audit_text, field_changes, plan_merge
from app.ingest.models import FACILITY_LENGTH, Incidence, PortalUpdate, UploadedFile
from app.ingest.outcome import FieldChange
from app.workbook.cells import clean_text

INSERT_RETRIES = 3
# The audit comment of a direct upload sent without one: the same on both paths (users see it).
DIRECT_UPLOAD_COMMENT = "direct upload"
INCIDENCES = Incidence.__table__
PORTAL_UPDATES = PortalUpdate.__table__
UPLOADED_FILES = UploadedFile.__table__

# Statements built once: SQLAlchemy then reuses their compiled form on every upload.
_INSERT_UPLOAD = insert(UPLOADED_FILES)
_INSERT_UPDATES = insert(PORTAL_UPDATES)
_INSERT_INCIDENCE = insert(INCIDENCES)
_SELECT_MISC_JSON = select(INCIDENCES.c.misc_json).where(INCIDENCES.c.id_incidence == bindparam("b_id"))
_LOCK_MISC_JSON = _SELECT_MISC_JSON.with_for_update()
# Settling a record also writes its evidence (duration, sector) in the same statement;
# a later step that knows neither (a review's confirm) keeps what is there.
_MARK_UPLOAD = update(UPLOADED_FILES).where(UPLOADED_FILES.c.id == bindparam("b_id")).values(
    status=bindparam("b_status"), description=bindparam("b_description"), error_type=bindparam("b_error_type"),
    updated_at=bindparam("b_now"), id_incidence=func.coalesce(bindparam("b_incidence"), UPLOADED_FILES.c.id_incidence),
    duration_seconds=func.coalesce(bindparam("b_duration", type_=UPLOADED_FILES.c.duration_seconds.type),
                                   UPLOADED_FILES.c.duration_seconds),
    sector=func.coalesce(bindparam("b_sector", type_=UPLOADED_FILES.c.sector.type), UPLOADED_FILES.c.sector),
)
_UPDATE_INCIDENCE = update(INCIDENCES).where(INCIDENCES.c.id_incidence == bindparam("b_id")).values(
    misc_json=bindparam("b_misc_json", type_=INCIDENCES.c.misc_json.type), updated_at=bindparam("b_now"),
    updated_by=bindparam("b_user"), sector=func.coalesce(bindparam("b_sector"), INCIDENCES.c.sector),
    facility_name=bindparam("b_facility"),
)
_NOTE_WARNINGS = update(UPLOADED_FILES).where(UPLOADED_FILES.c.id == bindparam("b_id")).values(
    warnings=bindparam("b_warnings", type_=UPLOADED_FILES.c.warnings.type),
)


@contextmanager
def _database_errors(action: str) -> Iterator[None]:
    """Translate SQLAlchemy failures (other than a lost insert race) into `DatabaseUnavailable`."""
    try:
        yield
    except IntegrityError:
        raise
    except SQLAlchemyError as exc:
        raise DatabaseUnavailable(f"{action}: {public_reason(exc)}") from exc


def elapsed(started: float | None) -> float | None:
    """Seconds since `started` (a `time.perf_counter()` reading), or None when unknown."""
    return None if started is None else max(0.0, time.perf_counter() - started)


_SELECT_BY_PATH = select(UPLOADED_FILES.c.id).where(UPLOADED_FILES.c.path == bindparam("b_path"))
# A path applies an upload only while its record is still open: the merge's own UPDATE
# claims it, so a retry and a late worker never both apply one upload.
_CLAIM_UPLOAD = _MARK_UPLOAD.where(UPLOADED_FILES.c.status.in_(("received", "interrupted")))


def record_upload(db: Database, *, filename: str, saved_name: str | None, route: str, ingest_path: str,
                  user: str, size: int, sha256: str | None, status: str = "received",
                  description: str | None = None, error_type: str | None = None, now: dt.datetime,
                  decision_reason: str | None = None, started: float | None = None) -> int:
    """Insert the `uploaded_files` row for an upload and return its id (a record inserted
    already settled, a rejected upload, gets its duration from `started`; the existing
    row's id when the reconciler recorded this file already: one file, one record)."""
    try:
        with _database_errors("recording the upload"), db.transaction(write=True) as conn:
            result = conn.execute(_INSERT_UPLOAD, {
                "path": saved_name, "original_filename": clean_text(filename)[:1000], "status": status,
                "description": description, "error_type": error_type, "route": route, "ingest_path": ingest_path,
                "user": user, "size_bytes": size, "sha256": sha256, "created_at": now, "updated_at": now,
                "decision_reason": decision_reason, "sector": None,
                "duration_seconds": elapsed(started) if status != "received" else None,
            })
            return result.inserted_primary_key[0]
    except IntegrityError:
        if saved_name is None:
            raise DatabaseUnavailable("recording the upload: the database refused the operation") from None
        with _database_errors("recording the upload"), db.transaction() as conn:
            return conn.execute(_SELECT_BY_PATH, {"b_path": saved_name}).scalar_one()


def _mark_upload(conn: Connection, upload_id: int, *, status: str, now: dt.datetime, description: str | None,
                 error_type: str | None, id_incidence: int | None, sector: str | None = None,
                 started: float | None = None, claim: bool = False) -> int:
    """Settle the record (`claim`: only while it is still open); the number of rows changed."""
    return conn.execute(_CLAIM_UPLOAD if claim else _MARK_UPLOAD, {
        "b_id": upload_id, "b_status": status, "b_description": description, "b_error_type": error_type, "b_now": now,
        "b_incidence": id_incidence, "b_sector": str(sector)[:100] if sector else None, "b_duration": elapsed(started),
    }).rowcount


def finish_upload(db: Database, upload_id: int, *, status: str, now: dt.datetime, description: str | None = None,
                  error_type: str | None = None, id_incidence: int | None = None, sector: str | None = None,
                  started: float | None = None) -> None:
    """Set how an upload ended, with its sector and the duration since `started` when known."""
    with _database_errors("updating the upload record"), db.transaction(write=True) as conn:
        _mark_upload(conn, upload_id, status=status, now=now, description=description, error_type=error_type,
                     id_incidence=id_incidence, sector=sector, started=started)


def note_warnings(db: Database, upload_id: int, warnings: list[dict]) -> None:
    """Keep an upload's parse warnings on its record (the pages show them later)."""
    with _database_errors("recording the upload's warnings"), db.transaction(write=True) as conn:
        conn.execute(_NOTE_WARNINGS, {"b_id": upload_id, "b_warnings": warnings})


def load_warnings(db: Database, upload_ids: list[int]) -> dict[int, list]:
    """The recorded warnings of these uploads, by upload id (uploads without any left out)."""
    if not upload_ids:
        return {}
    query = select(UPLOADED_FILES.c.id, UPLOADED_FILES.c.warnings).where(
        UPLOADED_FILES.c.id.in_(upload_ids), UPLOADED_FILES.c.warnings.is_not(None))
    with _database_errors("reading the upload's warnings"), db.transaction() as conn:
        return {row.id: row.warnings for row in conn.execute(query)}


def facility_of(misc_json: Mapping) -> str | None:
    """The `incidences.facility_name` copy of the form's facility name."""
    name = misc_json.get("facility_name")
    return name[:FACILITY_LENGTH] if isinstance(name, str) and name else None


def load_misc_json(db: Database, id_incidence: int) -> dict | None:
    """The incidence's stored `misc_json`, or None when it does not exist."""
    with _database_errors("reading the incidence"), db.transaction() as conn:
        return conn.execute(_SELECT_MISC_JSON, {"b_id": id_incidence}).scalar_one_or_none()


def _locked(conn: Connection, id_incidence: int) -> tuple[bool, dict | None]:
    """(exists, misc_json) of the incidence, locked for the rest of the transaction."""
    row = conn.execute(_LOCK_MISC_JSON, {"b_id": id_incidence}).first()
    return (False, None) if row is None else (True, row[0])


def _log(conn: Connection, id_incidence: int, changes: tuple[FieldChange, ...], user: str, comments: str | None,
         now: dt.datetime) -> None:
    if not changes:
        return
    comments = clean_text(comments)[:2000] if comments else None
    conn.execute(_INSERT_UPDATES, [
        {"timestamp": now, "key": c.key, "old_value": audit_text(c.old), "new_value": audit_text(c.new),
         "user": user, "comments": comments, "id_incidence": id_incidence}
        for c in changes
    ])


def _write(conn: Connection, exists: bool, id_incidence: int, misc_json: dict, sector: str | None,
           user: str, now: dt.datetime) -> None:
    if not exists:
        # A concurrent insert of the same id fails here (IntegrityError) and is retried.
        conn.execute(_INSERT_INCIDENCE, {"id_incidence": id_incidence, "misc_json": misc_json, "sector": sector,
                                         "created_at": now, "updated_at": now, "updated_by": user,
                                         "facility_name": facility_of(misc_json)})
        return
    conn.execute(_UPDATE_INCIDENCE, {"b_id": id_incidence, "b_misc_json": misc_json, "b_now": now, "b_user": user,
                                     "b_sector": sector or None, "b_facility": facility_of(misc_json)})


def _with_insert_retry(action: str, attempt_once: Callable[[], object]):
    for attempt in range(INSERT_RETRIES):
        try:
            with _database_errors(action):
                return attempt_once()
        except IntegrityError:
            if attempt == INSERT_RETRIES - 1:
                raise DatabaseUnavailable(f"{action}: the incidence kept changing under concurrent inserts") from None
    raise AssertionError("unreachable")


def apply_merge(db: Database, id_incidence: int, payload: Mapping, *, sector: str | None, user: str,
                comments: str | None, now: dt.datetime, upload_id: int | None = None,
                started: float | None = None) -> MergePlan:
    """Merge `payload` into the incidence under a row lock; log each change; mark the
    upload `processed` (with its sector and the duration since `started`) in the same
    transaction. Returns the plan applied."""

    def attempt() -> MergePlan:
        with db.transaction(write=True) as conn:
            exists, current = _locked(conn, id_incidence)
            plan = plan_merge(id_incidence, current if exists else None, payload)
            _write(conn, exists, id_incidence, plan.merged_misc_json, sector, user, now)
            _log(conn, id_incidence, plan.changes, user, comments, now)
            if upload_id is not None:
                claimed = _mark_upload(conn, upload_id, status="processed", now=now, error_type=None,
                                       id_incidence=id_incidence, description=f"{len(plan.changes)} field(s) changed",
                                       sector=sector, started=started, claim=True)
                if claimed != 1:
                    raise UploadAlreadySettled(upload_id)  # rolls the merge back: applied at most once
            return plan

    return _with_insert_retry("saving the incidence", attempt)


def apply_confirmed(db: Database, id_incidence: int, *, base_misc_json: dict | None, updates: Mapping,
                    sector: str | None, user: str, comments: str | None, now: dt.datetime,
                    before_commit: Callable[[], None] = lambda: None) -> tuple[FieldChange, ...]:
    """Apply confirmed staged fields if the incidence still equals `base_misc_json`.

    Raises `StagedConflict` (nothing written) when someone changed it since staging.
    `before_commit` runs inside the transaction (the staged file is moved there, so a
    failed move leaves the database untouched).
    """

    def attempt() -> tuple[FieldChange, ...]:
        with db.transaction(write=True) as conn:
            exists, current = _locked(conn, id_incidence)
            if current != base_misc_json:
                raise StagedConflict(id_incidence)
            changes = field_changes(current, updates)
            merged = {**(current or {"id_incidence": id_incidence}), **updates}
            # The sector column follows the sector field: switched only when the reviewer ticked it.
            column = updates.get("sector") if "sector" in updates else (None if exists else sector)
            _write(conn, exists, id_incidence, merged, column, user, now)
            _log(conn, id_incidence, changes, user, comments, now)
            before_commit()
            return changes

    return _with_insert_retry("saving the confirmed fields", attempt)


database_errors = _database_errors  # the reconciler translates its failures the same way
