"""Where the original and refactored paths may differ on purpose, each with its reason.

Everything else in two outcomes for the same upload against the same base state must be
equal. The parity tests check this on one corpus; review a new entry here like code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields

from app.ingest.outcome import CONVERSION_FAILED, FILE_ERROR, MISSING_ID, VALIDATION_ERROR, Outcome

# Values that differ between any two runs, by construction.
VOLATILE_FIELDS = ("path", "upload_id", "saved_filename", "staged_filename")


@dataclass(frozen=True)
class IntendedDifference:
    """One accepted difference: which outcome field, when it applies, and why."""

    field: str
    reason: str
    applies: Callable[[Outcome, Outcome], bool]


def _coarse_error(original: Outcome, refactored: Outcome) -> bool:
    return (not original.success and not refactored.success and original.error_type == MISSING_ID
            and refactored.error_type in (FILE_ERROR, CONVERSION_FAILED, MISSING_ID, VALIDATION_ERROR))


_COARSE = ("The original reports every file it cannot read, and every bad id, as missing_id with one "
           "message (the legacy behaviour); the refactored path says precisely what is wrong.")

INTENDED_DIFFERENCES: tuple[IntendedDifference, ...] = (
    IntendedDifference("error_type", _COARSE, _coarse_error),
    IntendedDifference("error_code", _COARSE, _coarse_error),
    IntendedDifference("error_message", _COARSE, _coarse_error),
    IntendedDifference(
        "warnings",
        "The original writes parse warnings (failed casts, odd labels) to its import-audit log; the "
        "refactored path also returns them to the user with the result.",
        lambda original, refactored: original.warnings == (),
    ),
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
