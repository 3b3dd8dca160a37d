"""What an ingestion path produced: the same kind of `Outcome` from either path.

Error types are the established system's: `file_error`, `conversion_failed`,
`missing_id`, `validation_error`, `database_error`, `processing_error`, `storage_error` (the upload folder's disk full or failing; plus `conflict`
for a staged confirm refused because the incidence changed). `error_code` is the
finer reason, from which the web layer picks the HTTP status.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.ingest.field_warnings import FieldWarning

ORIGINAL = "original"
REFACTORED = "refactored"
PATHS = (ORIGINAL, REFACTORED)
DIRECT = "direct"
STAGED = "staged"
ROUTES = (DIRECT, STAGED)

FILE_ERROR = "file_error"
CONVERSION_FAILED = "conversion_failed"
MISSING_ID = "missing_id"
VALIDATION_ERROR = "validation_error"
DATABASE_ERROR = "database_error"
PROCESSING_ERROR = "processing_error"
STORAGE_ERROR = "storage_error"
CONFLICT = "conflict"

# How a path learns the incidence's stored `misc_json` (None: it does not exist yet).
BaseLookup = Callable[[int], "dict | None"]


@dataclass(frozen=True)
class Upload:
    """One uploaded file and who sent it (the input of both paths)."""

    data: bytes
    filename: str
    user: str
    comments: str | None = None
    # When the portal began handling the request (`time.perf_counter()`), so the record
    # that settles it carries the whole handling time; None: the path starts the clock.
    started: float | None = None
    # Why the router chose the path (`percentage`, `kill_switch`...; `pinned` on a pinned URL).
    decision: str | None = None


@dataclass(frozen=True)
class FieldChange:
    """One field whose stored value changes (logged as one `portal_updates` row)."""

    key: str
    old: object
    new: object


@dataclass(frozen=True)
class Failure:
    """Why a step failed: the established error type, a finer code, the user's message."""

    error_type: str
    code: str
    message: str


@dataclass(frozen=True)
class Outcome:
    """The result of one upload through one path, direct or staged."""

    path: str
    route: str
    success: bool
    error_type: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    id_incidence: int | None = None
    sector: str | None = None
    payload: dict | None = None
    merged_misc_json: dict | None = None
    changes: tuple[FieldChange, ...] = ()
    staged_filename: str | None = None
    base_misc_json: dict | None = None
    upload_id: int | None = None
    saved_filename: str | None = None
    warnings: tuple[FieldWarning, ...] = field(default=())

    @classmethod
    def failed(cls, path: str, route: str, failure: Failure, **data) -> Outcome:
        """An unsuccessful outcome carrying `failure`."""
        return cls(path, route, False, failure.error_type, failure.code, failure.message, **data)
