"""Where the original and refactored paths may differ on purpose, each with its reason.

Everything else in two outcomes for the same upload against the same base state must be
equal. The parity tests check this on one corpus and the shadow runner on live traffic,
both from this file; review a new entry here like code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields

from app.ingest.outcome import CONVERSION_FAILED, FILE_ERROR, MISSING_ID, VALIDATION_ERROR, Outcome

# Outcome fields that differ between any two runs by construction, and why: never compared
# (the parity tests here, the shadow runner through `app.harness.shadowing`).
VOLATILE_FIELDS = {
    "path": "names which path produced the outcome: differs by definition",
    "upload_id": "a row id assigned by the database to the control's upload record",
    "saved_filename": "the stored upload's name carries the UTC time it was saved",
    "staged_filename": "the staged file's name carries the UTC time it was staged",
}


@dataclass(frozen=True)
class IntendedDifference:
    """One accepted difference: which outcome field, when it applies, and why."""

    field: str
    reason: str
    applies: Callable[[Outcome, Outcome], bool]


def _coarse_types(original_type: str | None, refactored_type: str | None) -> bool:
    return original_type == MISSING_ID and refactored_type in (FILE_ERROR, CONVERSION_FAILED, MISSING_ID, VALIDATION_ERROR)


def _coarse_error(original: Outcome, refactored: Outcome) -> bool:
    return not original.success and not refactored.success and _coarse_types(original.error_type, refactored.error_type)


_COARSE = ("The original reports every file it cannot read, and every bad id, as missing_id with one "
           "message (the legacy behaviour); the refactored path says precisely what is wrong.")

INTENDED_DIFFERENCES: tuple[IntendedDifference, ...] = (
    IntendedDifference("error_type", _COARSE, _coarse_error),
    IntendedDifference("error_code", _COARSE, _coarse_error),
    IntendedDifference("error_message", _COARSE, _coarse_error),
)


@dataclass(frozen=True)
class PageDifference:
    """A part of a page that may differ between the paths, when, and why."""

    part: str
    reason: str
    applies: Callable[[str | None, str | None], bool]  # (original's error type, refactored's error type)


# What a user sees may differ only here (tests/web/test_page_parity.py uploads the parity
# corpus through both paths over HTTP and compares every page, ids and times normalised).
PAGE_DIFFERENCES: tuple[PageDifference, ...] = (
    PageDifference("error-box", "The refused upload's message, its error type and the HTTP status that "
                   "follows from it (422 on the original, 415 or 400 or 422 on the refactored): " + _COARSE, _coarse_types),
    PageDifference("upload-error", "Each refused upload's error on the staff page of recent uploads, as its "
                   "record keeps it: " + _COARSE, _coarse_types),
    PageDifference("ingest-path", "The staff page of recent uploads (/uploads) names the path that served each "
                   "upload, so staff can follow the migration; no page an uploader sees names it.", lambda a, b: True),
)


@dataclass(frozen=True)
class Difference:
    """A field on which two outcomes differ without an intended reason."""

    field: str
    original: object
    refactored: object


def unexplained_differences(original: Outcome, refactored: Outcome) -> list[Difference]:
    """Fields that differ and are neither volatile nor an intended difference."""
    found = []
    for f in fields(Outcome):
        if f.name in VOLATILE_FIELDS:
            continue
        a, b = getattr(original, f.name), getattr(refactored, f.name)
        if a == b:
            continue
        if any(d.field == f.name and d.applies(original, refactored) for d in INTENDED_DIFFERENCES):
            continue
        found.append(Difference(f.name, a, b))
    return found
