"""Writing to the database: upload records, merges into incidences, confirmed staged fields.

No lost update: a merge locks the incidence row (PostgreSQL `FOR UPDATE`, SQLite's write
lock via `BEGIN IMMEDIATE`) and recomputes the plan against the row as locked, so two
uploads for one incidence at the same moment end as if one ran after the other. Two
first uploads of a new incidence race on the insert; the loser retries against the row
the winner wrote.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from app.db import Database, DatabaseUnavailable
from app.ingest.merge import MergePlan, audit_text, field_changes, plan_merge
from app.ingest.outcome import FieldChange
from app.models import Incidence, PortalUpdate, UploadedFile
from app.workbook.cells import clean_text

INSERT_RETRIES = 3


class StagedConflict(Exception):
    """The incidence changed after the upload was staged; nothing was written."""


@contextmanager
def _database_errors(action: str) -> Iterator[None]:
    """Translate SQLAlchemy failures (other than a lost insert race) into `DatabaseUnavailable`."""
    try:
        yield
    except IntegrityError:
        raise
    except SQLAlchemyError as exc:
        raise DatabaseUnavailable(f"{action}: {str(exc).splitlines()[0]}") from exc


def record_upload(db: Database, *, filename: str, saved_name: str | None, route: str, ingest_path: str,
                  user: str, size: int, sha256: str | None, status: str = "received",
                  description: str | None = None, error_type: str | None = None, now: dt.datetime) -> int:
    """Insert the `uploaded_files` row for an upload and return its id."""
    with _database_errors("recording the upload"), db.session(write=True) as session:
        row = UploadedFile(
            path=saved_name, original_filename=clean_text(filename)[:1000], status=status, description=description,
            error_type=error_type, route=route, ingest_path=ingest_path, user=user, size_bytes=size,
            sha256=sha256, created_at=now, updated_at=now,
        )
        session.add(row)
        session.flush()
        return row.id


def finish_upload(db: Database, upload_id: int, *, status: str, now: dt.datetime, description: str | None = None,
                  error_type: str | None = None, id_incidence: int | None = None) -> None:
    """Set how an upload ended."""
    with _database_errors("updating the upload record"), db.session(write=True) as session:
        row = session.get(UploadedFile, upload_id)
        if row is None:
            return
        row.status = status
        row.description = description
        row.error_type = error_type
        row.updated_at = now
        if id_incidence is not None:
            row.id_incidence = id_incidence


def load_misc_json(db: Database, id_incidence: int) -> dict | None:
    """The incidence's stored `misc_json`, or None when it does not exist."""
    with _database_errors("reading the incidence"), db.session() as session:
        return session.execute(select(Incidence.misc_json).where(Incidence.id_incidence == id_incidence)).scalar_one_or_none()


def _locked(session: Session, id_incidence: int) -> Incidence | None:
    return session.execute(
        select(Incidence).where(Incidence.id_incidence == id_incidence).with_for_update()
    ).scalar_one_or_none()


def _log(session: Session, id_incidence: int, changes: tuple[FieldChange, ...], user: str, comments: str | None,
         now: dt.datetime) -> None:
    comments = clean_text(comments)[:2000] if comments else None
    session.add_all(
        PortalUpdate(timestamp=now, key=c.key, old_value=audit_text(c.old), new_value=audit_text(c.new),
                     user=user, comments=comments, id_incidence=id_incidence)
        for c in changes
    )


def _write(session: Session, row: Incidence | None, id_incidence: int, misc_json: dict, sector: str | None,
           user: str, now: dt.datetime) -> None:
    if row is None:
        session.add(Incidence(id_incidence=id_incidence, misc_json=misc_json, sector=sector,
                              created_at=now, updated_at=now, updated_by=user))
        session.flush()  # surfaces a concurrent insert of the same id here
    else:
        row.misc_json = misc_json  # a new dict, so the change is detected
        row.sector = sector or row.sector
        row.updated_at = now
        row.updated_by = user


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
                comments: str | None, now: dt.datetime) -> MergePlan:
    """Merge `payload` into the incidence under a row lock; log each change. Returns the plan applied."""

    def attempt() -> MergePlan:
        with db.session(write=True) as session:
            row = _locked(session, id_incidence)
            plan = plan_merge(id_incidence, None if row is None else row.misc_json, payload)
            _write(session, row, id_incidence, plan.merged_misc_json, sector, user, now)
            _log(session, id_incidence, plan.changes, user, comments, now)
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
        with db.session(write=True) as session:
            row = _locked(session, id_incidence)
            current = None if row is None else row.misc_json
            if current != base_misc_json:
                raise StagedConflict(id_incidence)
            changes = field_changes(current, updates)
            merged = {**(current or {"id_incidence": id_incidence}), **updates}
            _write(session, row, id_incidence, merged, sector, user, now)
            _log(session, id_incidence, changes, user, comments, now)
            before_commit()
            return changes

    return _with_insert_retry("saving the confirmed fields", attempt)
