"""No file without a record, no record in limbo: the reconciler and the retry (issue 17,
issue 14 point 6). One mechanism serves the start-up pass, the periodic pass of every
portal process, `harness uploads reconcile`, `harness uploads retry ID` and `/uploads`.

A pass (`reconcile`), idempotent, safe to run in several processes at once:

1. `.partial-*` temporaries older than the grace age are removed (a write that died);
2. journal entries older than the grace age: a file the database never recorded is
   recorded as `interrupted` (the unique index on `path` keeps it to one record); one
   whose record exists, or whose file never appeared, is removed;
3. `received` rows older than `older_than` are marked `interrupted` (their worker died:
   nothing was applied, since applying settles the record in the same transaction);
4. open rows whose kept file is gone become `file_missing`; `staged` rows whose staged
   file is gone become `confirmed` (it is in `processed/`) or `discarded`.

`retry(ctx, upload_id)` re-processes an `interrupted` upload from its kept file, through
the path that received it, under its own record: the claim (`interrupted` -> `received`)
lets one retry run at a time, and the merge applies only while the record is open, so an
upload is applied at most once however often it is retried.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass, field

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from app.ingest import intake, staging
from app.ingest.context import IngestContext
from app.ingest.errors import DatabaseUnavailable, NotRetryable, UploadAlreadySettled
from app.ingest.files import JOURNAL_FORMAT, PARTIAL_PREFIX, SavedFile
from app.ingest.models import UploadedFile
from app.ingest.outcome import Outcome, Upload
from app.ingest.persistence import database_errors as _database_errors

log = logging.getLogger(__name__)
UPLOADS = UploadedFile.__table__
RECONCILER = "reconciler"


@dataclass(frozen=True)
class ReconcileReport:
    """What one pass did, and how many uploads are `interrupted` now."""

    partials_removed: int = 0
    journals_recorded: tuple[int, ...] = ()
    journals_cleared: int = 0
    interrupted: tuple[int, ...] = ()
    fixed: tuple[tuple[int, str], ...] = ()
    interrupted_now: int = 0
    seconds: float = 0.0

    def lines(self) -> list[str]:
        """The report in words (the CLI prints it)."""
        return [
            f"partial files removed:           {self.partials_removed}",
            f"journalled files recorded:       {len(self.journals_recorded)} {list(self.journals_recorded)[:20]}",
            f"journal entries cleared:         {self.journals_cleared}",
            f"received -> interrupted:         {len(self.interrupted)} {list(self.interrupted)[:20]}",
            f"records fixed (file gone):       {len(self.fixed)} {[f'{i}:{s}' for i, s in self.fixed[:20]]}",
            f"interrupted uploads now:         {self.interrupted_now}",
        ]


def _age(path: os.DirEntry, now: float) -> float:
    try:
        return now - path.stat().st_mtime
    except FileNotFoundError:
        return -1.0


def _remove_partials(ctx: IngestContext, grace: float) -> int:
    removed, now = 0, time.time()
    for folder in ctx.files.folders:
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            continue
        for entry in entries:
            if entry.name.startswith(PARTIAL_PREFIX) and _age(entry, now) > grace:
                try:
                    os.unlink(entry.path)
                    removed += 1
                except FileNotFoundError:
                    pass
    return removed


def _record_journals(ctx: IngestContext, grace: float, when: dt.datetime) -> tuple[tuple[int, ...], int]:
    recorded, cleared, now = [], 0, time.time()
    try:
        entries = [e for e in os.scandir(ctx.files.journal) if e.name.endswith(".json") and not e.name.startswith(".")]
    except FileNotFoundError:
        return (), 0
    for entry in entries:
        if _age(entry, now) <= grace:
            continue  # a request may be recording it right now
        name = entry.name.removesuffix(".json")
        try:
            with open(entry.path, "rb") as handle:
                doc = json.loads(handle.read())
            if doc.get("format") != JOURNAL_FORMAT:
                raise ValueError(doc.get("format"))
        except FileNotFoundError:
            continue
        except ValueError as error:
            log.warning("journal entry %s cannot be read (%s); left for an operator", entry.name, error)
            continue
        if not (ctx.files.root / name).exists():
            ctx.files.forget_journal(name)  # the write died before the file appeared: nothing was kept
            cleared += 1
            continue
        with _database_errors("reconciling the journal"), ctx.db.transaction(write=True) as conn:
            existing = conn.execute(select(UPLOADS.c.id).where(UPLOADS.c.path == name)).scalar()
            if existing is None:
                try:
                    with conn.begin_nested():
                        new_id = conn.execute(insert(UPLOADS).values(
                            path=name, original_filename=str(doc.get("original_filename") or "")[:1000],
                            status=intake.INTERRUPTED, route=str(doc.get("route") or "direct")[:16],
                            ingest_path=str(doc.get("ingest_path") or "refactored")[:16], user=doc.get("user"),
                            size_bytes=doc.get("size"), sha256=doc.get("sha256"),
                            description="kept while the database was unavailable; recorded by the reconciler",
                            created_at=_received_at(doc, when), updated_at=when,
                        )).inserted_primary_key[0]
                    recorded.append(new_id)
                except IntegrityError:
                    # Another process recorded it a moment ago, or the database refused for
                    # another reason: the journal entry stays unless the record is there now.
                    if conn.execute(select(UPLOADS.c.id).where(UPLOADS.c.path == name)).scalar() is None:
                        log.warning("journal entry %s: the database refused its record; kept for the next pass", name)
                        continue
        ctx.files.forget_journal(name)
        cleared += 1
    return tuple(recorded), cleared


def _received_at(doc: dict, fallback: dt.datetime) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(doc["received_at"])
    except (KeyError, TypeError, ValueError):
        return fallback


def _mark_interrupted(ctx: IngestContext, cutoff: dt.datetime, when: dt.datetime) -> tuple[int, ...]:
    stale = (UPLOADS.c.status == intake.RECEIVED) & (UPLOADS.c.updated_at < cutoff)
    with _database_errors("marking interrupted uploads"), ctx.db.transaction(write=True) as conn:
        ids = tuple(conn.execute(select(UPLOADS.c.id).where(stale).order_by(UPLOADS.c.id)).scalars())
        if ids:
            conn.execute(update(UPLOADS).where(stale & UPLOADS.c.id.in_(ids)).values(
                status=intake.INTERRUPTED, updated_at=when,
                description="no answer was recorded for this upload (its worker stopped); nothing was applied"))
    return ids


def _fix_missing(ctx: IngestContext, when: dt.datetime) -> tuple[tuple[int, str], ...]:
    fixed: list[tuple[int, str]] = []
    watched = (intake.RECEIVED, intake.INTERRUPTED, intake.STAGED_STATUS)
    with _database_errors("checking upload files"), ctx.db.transaction() as conn:
        rows = conn.execute(select(UPLOADS.c.id, UPLOADS.c.status, UPLOADS.c.path, UPLOADS.c.description)
                            .where(UPLOADS.c.status.in_(watched))).all()
    for upload_id, status, path, description in rows:
        new_status, why = None, None
        if path and not (ctx.files.root / path).exists():
            new_status, why = intake.FILE_MISSING, f"the kept file {path} is gone"
        elif status == intake.STAGED_STATUS and description and staging.NAME_PATTERN.fullmatch(description) \
                and not (ctx.files.staging / description).exists():
            if (ctx.files.processed / description).exists():
                new_status, why = intake.CONFIRMED, "confirmed (recorded by the reconciler)"
            else:
                new_status, why = intake.DISCARDED, "the staged file is gone (discarded; recorded by the reconciler)"
        if new_status is None:
            continue
        with _database_errors("fixing an upload record"), ctx.db.transaction(write=True) as conn:
            done = conn.execute(update(UPLOADS).where((UPLOADS.c.id == upload_id) & (UPLOADS.c.status == status))
                                .values(status=new_status, description=why, updated_at=when)).rowcount
        if done:
            fixed.append((upload_id, new_status))
    return tuple(fixed)


def count_interrupted(ctx: IngestContext) -> int:
    """How many uploads are `interrupted` now."""
    with _database_errors("counting interrupted uploads"), ctx.db.transaction() as conn:
        return conn.execute(select(func.count()).select_from(UPLOADS)
                            .where(UPLOADS.c.status == intake.INTERRUPTED)).scalar_one()


def reconcile(ctx: IngestContext, older_than: float) -> ReconcileReport:
    """One pass (see the module docstring); raises `DatabaseUnavailable` if the database is gone
    (the next pass picks up where this one stopped)."""
    started = time.monotonic()
    when = ctx.clock()
    partials = _remove_partials(ctx, older_than)
    recorded, cleared = _record_journals(ctx, older_than, when)
    interrupted = _mark_interrupted(ctx, when - dt.timedelta(seconds=older_than), when)
    fixed = _fix_missing(ctx, when)
    report = ReconcileReport(partials, recorded, cleared, interrupted, fixed, count_interrupted(ctx),
                             time.monotonic() - started)
    if recorded or interrupted or fixed or partials:
        log.warning("reconciler: %s", "; ".join(line.split(":", 1)[0] + ":" + line.split(":", 1)[1].split("[")[0].strip()
                                              for line in report.lines()))
    return report


# -- retry ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryResult:
    """What a retry did: the upload's outcome, or that it had been applied already."""

    upload_id: int
    outcome: Outcome | None = None
    already: str | None = None
    notes: tuple[str, ...] = field(default=())


def _load(ctx: IngestContext, upload_id: int):
    with _database_errors("reading the upload"), ctx.db.transaction() as conn:
        return conn.execute(select(UPLOADS).where(UPLOADS.c.id == upload_id)).mappings().first()


def _claim(ctx: IngestContext, upload_id: int) -> bool:
    with _database_errors("claiming the upload"), ctx.db.transaction(write=True) as conn:
        return conn.execute(update(UPLOADS).where(
            (UPLOADS.c.id == bindparam("b_id")) & (UPLOADS.c.status == intake.INTERRUPTED)
        ).values(status=intake.RECEIVED, updated_at=ctx.clock(), description="being retried"),
            {"b_id": upload_id}).rowcount == 1


def _staged_for(ctx: IngestContext, upload_id: int) -> str | None:
    good, _ = staging.list_staged(ctx.files)
    return next((s.filename for s in good if s.upload_id == upload_id), None)


def retry(ctx: IngestContext, upload_id: int, implementations) -> RetryResult:
    """Re-process an `interrupted` upload (idempotent: applied at most once); raises
    `NotRetryable` when there is no such upload, it is not interrupted, or its file is gone."""
    row = _load(ctx, upload_id)
    if row is None:
        raise NotRetryable(f"there is no upload {upload_id}")
    if row["status"] != intake.INTERRUPTED:
        return RetryResult(upload_id, already=row["status"])
    path = ctx.files.root / (row["path"] or "")
    if not row["path"] or not path.is_file():
        raise NotRetryable(f"upload {upload_id}: its kept file {row['path']} is gone; it cannot be processed again")
    data = path.read_bytes()
    if row["sha256"] and hashlib.sha256(data).hexdigest() != row["sha256"]:
        raise NotRetryable(f"upload {upload_id}: its kept file {row['path']} no longer matches its checksum")
    if not _claim(ctx, upload_id):
        current = _load(ctx, upload_id)
        return RetryResult(upload_id, already=current["status"] if current else "gone")
    staged_already = _staged_for(ctx, upload_id) if row["route"] == "staged" else None
    if staged_already:  # the worker wrote the staged file and died before saying so
        intake.settle(ctx, upload_id, intake.STAGED_STATUS, staged_already, id_incidence=row["id_incidence"])
        return RetryResult(upload_id, already=intake.STAGED_STATUS, notes=(f"staged file {staged_already} existed",))
    upload = Upload(data, row["original_filename"], row["user"] or RECONCILER)
    kept = intake.KeptUpload(SavedFile(row["path"], path), upload_id)
    try:
        outcome = implementations[row["ingest_path"]].process(ctx, upload, row["route"], kept)
    except UploadAlreadySettled:
        current = _load(ctx, upload_id)
        return RetryResult(upload_id, already=current["status"] if current else "gone")
    except DatabaseUnavailable:
        raise
    except Exception:
        intake.settle(ctx, upload_id, intake.INTERRUPTED, "the retry failed with an internal error")
        raise
    return RetryResult(upload_id, outcome=outcome)


__all__ = ["ReconcileReport", "RetryResult", "count_interrupted", "reconcile", "retry"]
