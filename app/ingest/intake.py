"""Keeping an upload before anything else happens to it, and settling its record at the end.

Both paths start the same way: the file is written under a safe name, then recorded in
`uploaded_files` (status `received`), so nothing a user sent is lost even when
processing fails. Both end the same way too: the record says how the upload ended
(`failed` with the error, `staged`; the review marks `confirmed` and `discarded`).
Each path phrases its own messages; what it does is written once, here.

The statuses of an upload record:

    received ──> processed | staged | failed          (a path settles it)
       │         staged ──> confirmed | discarded      (the review)
       └──> interrupted ──(harness uploads retry)──> received ──> ...
                                                     (app.ingest.reconcile: the worker died)
    rejected                                          (no file: too large, none sent)
    file_missing                                      (the reconciler found its file gone)

Before the record is written the file has a journal entry beside it (`files.journal`),
removed once the record exists; the reconciler records the journalled files the
database never saw, as `interrupted`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
from dataclasses import dataclass

from app.ingest.context import IngestContext
from app.ingest.errors import DatabaseUnavailable
from app.ingest.files import SavedFile
from app.ingest.outcome import Failure, Upload
from app.ingest.field_warnings import FieldWarning, to_record
from app.ingest.persistence import finish_upload, note_warnings, record_upload

log = logging.getLogger(__name__)

RECEIVED = "received"
PROCESSED = "processed"
STAGED_STATUS = "staged"
FAILED = "failed"
CONFIRMED = "confirmed"
DISCARDED = "discarded"
REJECTED = "rejected"
INTERRUPTED = "interrupted"
FILE_MISSING = "file_missing"
# A path may still apply an upload in these statuses (the merge claims it atomically).
OPEN_STATUSES = (RECEIVED, INTERRUPTED)


class UploadNotRecorded(DatabaseUnavailable):
    """The file is kept on disk but its `uploaded_files` row could not be written."""

    def __init__(self, saved: SavedFile, cause: DatabaseUnavailable) -> None:
        super().__init__(str(cause))
        self.saved = saved


@dataclass(frozen=True)
class KeptUpload:
    """An upload on disk and its record's id."""

    saved: SavedFile
    upload_id: int


def timed(upload: Upload) -> Upload:
    """The upload with its handling clock started (the web layer starts it on arrival)."""
    return upload if upload.started is not None else dataclasses.replace(upload, started=time.perf_counter())


def keep(ctx: IngestContext, upload: Upload, route: str, path: str, kept: KeptUpload | None = None) -> KeptUpload:
    """Write the file with its journal entry, then record it; raises `OSError` (nothing
    kept) or `UploadNotRecorded` (kept and journalled). A retry passes the upload `kept` already."""
    if kept is not None:
        return kept
    now = ctx.clock()
    sha256 = hashlib.sha256(upload.data).hexdigest()
    journal = {"original_filename": upload.filename, "route": route, "ingest_path": path, "user": upload.user,
               "size": len(upload.data), "sha256": sha256, "received_at": now.isoformat()}
    saved = ctx.files.save_upload(upload.data, upload.filename, now, journal=journal)
    try:
        upload_id = record_upload(
            ctx.db, filename=upload.filename, saved_name=saved.name, route=route, ingest_path=path,
            user=upload.user, size=len(upload.data), sha256=sha256, now=now,
            decision_reason=upload.decision,
        )
    except DatabaseUnavailable as exc:
        raise UploadNotRecorded(saved, exc) from exc
    ctx.files.forget_journal(saved.name)
    return KeptUpload(saved, upload_id)


def settle(ctx: IngestContext, upload_id: int | None, status: str, description: str | None, *,
           error_type: str | None = None, id_incidence: int | None = None, sector: str | None = None,
           started: float | None = None) -> None:
    """Say how an upload ended (with its sector and handling time when known); with the
    database gone the record stays as it was (the user is answered anyway, and the record
    is not lost: it still says `received`)."""
    if upload_id is None:
        return
    try:
        finish_upload(ctx.db, upload_id, status=status, now=ctx.clock(), description=description,
                      error_type=error_type, id_incidence=id_incidence, sector=sector, started=started)
    except DatabaseUnavailable as exc:
        log.warning("upload %s: could not record status %s: %s", upload_id, status, exc)


def mark_failed(ctx: IngestContext, upload_id: int | None, failure: Failure, id_incidence: int | None = None, *,
                sector: str | None = None, started: float | None = None) -> None:
    """Record that an upload failed, with its error."""
    settle(ctx, upload_id, FAILED, failure.message, error_type=failure.error_type, id_incidence=id_incidence,
           sector=sector, started=started)


def keep_warnings(ctx: IngestContext, upload_id: int | None, warnings: tuple[FieldWarning, ...]) -> None:
    """Keep an upload's parse warnings on its record (either path's; nothing to do without any)."""
    record = to_record(warnings)
    if upload_id is None or record is None:
        return
    try:
        note_warnings(ctx.db, upload_id, record)
    except DatabaseUnavailable as exc:
        log.warning("upload %s: could not record its warnings: %s", upload_id, exc)
