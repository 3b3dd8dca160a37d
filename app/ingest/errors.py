"""Why an ingestion operation could not complete: one tree for the whole package.

    IngestError                   (the message says what happened; nothing half-written)
    ├── DatabaseUnavailable       the database could not be reached or refused the operation
    ├── StagedConflict            the incidence changed after the upload was staged (confirm refused)
    ├── StagedNotFound            no staged upload by that name for that incidence
    ├── MalformedStaged           a staged file that cannot be read as one
    ├── NotConfirmable            a field asked for is not one the review offers
    ├── NothingConfirmed          a confirm with no field ticked (nothing moved, nothing stamped)
    ├── UploadAlreadySettled      the upload was applied (or settled) already: a retry changes nothing
    └── NotRetryable              a retry asked for an upload that is not `interrupted`

Why a *workbook* could not be read is `app.workbook.errors.WorkbookError`; a path turns
it into a `Failure` with the established error type, it never escapes as an exception.
"""

from __future__ import annotations


class IngestError(Exception):
    """Base of every ingestion error."""


class DatabaseUnavailable(IngestError, RuntimeError):
    """The database could not be reached or refused the operation."""


class StagedConflict(IngestError):
    """The incidence changed after the upload was staged; nothing was written."""


class StagedNotFound(IngestError, LookupError):
    """No staged file by that name for that incidence (or the name is not a staged name)."""


class MalformedStaged(IngestError, ValueError):
    """A staged file that cannot be read as one (damaged, edited by hand, wrong format)."""


class NotConfirmable(IngestError, ValueError):
    """A field asked for is not one the review offers for confirmation."""


class NothingConfirmed(IngestError, ValueError):
    """A confirm named no field: refused, so the staged upload stays reviewable."""


class UploadAlreadySettled(IngestError):
    """The upload's record is no longer open (applied, staged or settled): nothing was written."""

    def __init__(self, upload_id: int) -> None:
        super().__init__(f"upload {upload_id} was already applied or settled; nothing was written")
        self.upload_id = upload_id


class NotRetryable(IngestError, LookupError):
    """A retry named an upload that does not exist or is not `interrupted`."""


__all__ = ["NotRetryable", "UploadAlreadySettled", "DatabaseUnavailable", "IngestError", "MalformedStaged", "NotConfirmable", "NothingConfirmed", "StagedConflict", "StagedNotFound"]
