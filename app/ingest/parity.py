"""Where the original and refactored paths may differ on purpose, each with its reason.

Everything else in two outcomes for the same upload against the same base state must be
equal. The parity tests check this on one corpus and the shadow runner on live traffic,
both from this file; review a new entry here like code.
"""

from __future__ import annotations

import datetime as dt
import math
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

class _Absent:
    def __repr__(self) -> str:
        return "ABSENT"


ABSENT = _Absent()  # the key is not in the payload at all


@dataclass(frozen=True)
class CellDifference:
    """One cell rule on which the refactored path parts from the legacy on purpose.

    `explains(original, refactored)` tells whether two stored values of one field (or
    `ABSENT`) are this difference; `warned` whether the refactored path then warns about
    the field (so a difference it does not warn about is not taken for this one)."""

    name: str
    legacy: str
    refactored: str
    reason: str
    explains: Callable[[object, object], bool]
    warned: bool = True


def _is_stored_datetime(value: object) -> bool:
    if not isinstance(value, str) or len(value) < 19 or value[4:5] != "-":
        return False
    try:
        return dt.datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False


CELL_DIFFERENCES: tuple[CellDifference, ...] = (
    CellDifference(
        "incomplete_date",
        legacy='text that is not a whole date is completed from the day of the upload: "43" is 2043 with '
               "today's month and day, \"June 2024\" takes today's day, \"2:30 PM\" today's date",
        refactored="null, with a warning naming the cell and the text",
        reason="The legacy's value depends on the day the file is uploaded, so the same form gives different "
               "data on different days, and a date staff never typed looks like one they did. A warning tells "
               "them what was in the cell; the file itself is kept.",
        explains=lambda original, refactored: _is_stored_datetime(original) and refactored is None,
    ),
    CellDifference(
        "not_finite",
        legacy='"nan", "inf", "-Infinity" or a number too large for a float, typed in a number field, is '
               "stored as NaN or Infinity",
        refactored="null, with a warning",
        reason="NaN and Infinity are not JSON: the legacy writes a misc_json that other JSON readers refuse "
               "and PostgreSQL's JSONB cannot store (the upload then fails as a database error), and no "
               "emission, concentration or coordinate is infinite.",
        explains=lambda original, refactored: (isinstance(original, float) and not math.isfinite(original)
                                               and refactored is None),
    ),
    CellDifference(
        "truncated",
        legacy="a number with a fraction in a whole-number field is truncated: 12.7 is stored as 12",
        refactored="null, with a warning naming the value",
        reason="Truncation silently stores a different number than the operator wrote (12.7 plume id or "
               "incidence id 7.5 becomes 12 or 7, which may be another plume or incidence). The warning keeps "
               "what was written in front of staff; the file is kept.",
        explains=lambda original, refactored: (isinstance(original, int) and not isinstance(original, bool)
                                               and refactored is None),
    ),
    CellDifference(
        "time_zone",
        legacy="a text date with a time zone or offset (\"2024-06-25 14:30 -04:00\", \"...Z\", \"... UTC\") "
               "makes the legacy leave the field out of the upload, so the stored value is kept unchanged",
        refactored="the date, converted to UTC and stored like every other date",
        reason="The operator answered the question and said exactly when; dropping the field silently loses "
               "the answer (the incidence keeps an older value or none). A zone stated in the text is "
               "unambiguous, unlike a naive date, which stays California time.",
        explains=lambda original, refactored: original is ABSENT and _is_stored_datetime(refactored),
        warned=False,
    ),
)


def _warning_field(warning: object) -> str:
    return getattr(warning, "field", None) or str(warning).split(":", 1)[0]


def _warned_fields(outcome: Outcome) -> set[str]:
    return {_warning_field(w) for w in outcome.warnings}


def explained_payload_keys(original: Outcome, refactored: Outcome) -> dict[str, CellDifference] | None:
    """The payload keys on which the two outcomes differ, each with the cell difference that
    explains it; None when some key differs for no listed reason."""
    a, b = original.payload or {}, refactored.payload or {}
    if (original.payload is None) != (refactored.payload is None):
        return None
    warned = _warned_fields(refactored)
    explained = {}
    for key in a.keys() | b.keys():
        x, y = a.get(key, ABSENT), b.get(key, ABSENT)
        if x == y and type(x) is type(y):
            continue
        rule = next((d for d in CELL_DIFFERENCES if d.explains(x, y) and (not d.warned or key in warned)), None)
        if rule is None:
            return None
        explained[key] = rule
    return explained


def _payload_explained(original: Outcome, refactored: Outcome) -> bool:
    return bool(explained_payload_keys(original, refactored))


def _merged_explained(original: Outcome, refactored: Outcome) -> bool:
    keys = explained_payload_keys(original, refactored)
    if not keys or (original.merged_misc_json is None) != (refactored.merged_misc_json is None):
        return False
    a, b = original.merged_misc_json or {}, refactored.merged_misc_json or {}
    return all(k in keys for k in a.keys() | b.keys() if a.get(k, ABSENT) != b.get(k, ABSENT))


def _changes_explained(original: Outcome, refactored: Outcome) -> bool:
    keys = explained_payload_keys(original, refactored)
    if not keys:
        return False
    return ([c for c in original.changes if c.key not in keys] == [c for c in refactored.changes if c.key not in keys])


def _warnings_explained(original: Outcome, refactored: Outcome) -> bool:
    keys = explained_payload_keys(original, refactored)
    if not keys:
        return False
    return ([w for w in original.warnings if _warning_field(w) not in keys]
            == [w for w in refactored.warnings if _warning_field(w) not in keys])


_CELLS = ("The refactored path reads some cells differently from the legacy on purpose; each case and its "
          "reason is in CELL_DIFFERENCES, and only fields those cases explain may differ.")

INTENDED_DIFFERENCES: tuple[IntendedDifference, ...] = (
    IntendedDifference("error_type", _COARSE, _coarse_error),
    IntendedDifference("error_code", _COARSE, _coarse_error),
    IntendedDifference("error_message", _COARSE, _coarse_error),
    IntendedDifference("payload", _CELLS, _payload_explained),
    IntendedDifference("merged_misc_json", _CELLS, _merged_explained),
    IntendedDifference("changes", _CELLS, _changes_explained),
    IntendedDifference("warnings", _CELLS, _warnings_explained),
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
    PageDifference("field-warnings", "On an upload refused for its id, the warnings about fields the paths read "
                   "differently on purpose (CELL_DIFFERENCES: a fractional id such as 7.5 is not truncated, so the "
                   "refactored path warns about it) may differ; nothing is stored on either path: " + _COARSE,
                   _coarse_types),
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
