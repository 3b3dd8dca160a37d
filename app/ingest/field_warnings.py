"""Parse warnings as a reviewer reads them: which field, which cell, what was typed, what was stored.

A warning never stops an upload; the field is stored empty (a value that is not of the
field's type), cut (text past Excel's cell limit) or read under a question that differs
from the form's. Both paths return the same warnings; the upload's record keeps them
(`uploaded_files.warnings`) so the incidence and review pages can show them later.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass

from app.workbook.parse import ParseWarning

CAST, LABEL, CUT = "cast", "label", "cut"
TYPED_LIMIT = 200  # characters of a typed value kept and shown
EXPECTED = {"int": "a whole number", "float": "a number", "datetime": "a date and time such as 01/31/2025 14:30"}


@dataclass(frozen=True)
class FieldWarning:
    """One field the upload could not take as typed."""

    field: str
    kind: str
    cell: str | None
    typed: str | None
    expected: str | None
    message: str  # the machine text, as the JSON answer's `warnings` gives it

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"

    def as_dict(self) -> dict:
        """For JSON (the upload record, the JSON answer)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping) -> FieldWarning:
        """From a stored record; a damaged entry becomes a plain message."""
        return cls(str(data.get("field") or "?"), str(data.get("kind") or ""), _text(data.get("cell")),
                   _text(data.get("typed")), _text(data.get("expected")), str(data.get("message") or ""))


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= TYPED_LIMIT else text[: TYPED_LIMIT - 1] + "…"


def from_parse(warnings: Iterable[ParseWarning]) -> tuple[FieldWarning, ...]:
    """The parser's warnings as field warnings (the typed value cut to a readable length)."""
    return tuple(FieldWarning(w.field, w.kind, w.cell, _text(w.typed), w.value_type, w.message) for w in warnings)


def to_record(warnings: Iterable[FieldWarning]) -> list[dict] | None:
    """What `uploaded_files.warnings` holds (None when there is nothing to say)."""
    return [w.as_dict() for w in warnings] or None


def from_record(data: object) -> tuple[FieldWarning, ...]:
    """Read `uploaded_files.warnings` back; anything but a list of objects reads as none."""
    if not isinstance(data, list):
        return ()
    return tuple(FieldWarning.from_dict(d) for d in data if isinstance(d, Mapping))


SAVED, STAGED, REFUSED = "saved", "staged", "refused"


def describe(warning: FieldWarning, label: str | None = None, upload: str = SAVED) -> str:
    """One sentence for a CARB reviewer: the question, the cell, what was typed, what was stored.

    `upload` says what became of the upload: `saved` (a direct upload), `staged` (waiting for
    review, nothing stored yet) or `refused` (nothing stored)."""
    name = f"“{label}” ({warning.field})" if label else warning.field
    where = f" in cell {warning.cell}" if warning.cell else ""
    if warning.kind == CAST:
        wanted = EXPECTED.get(warning.expected or "", "a value of the field's type")
        effect = {STAGED: "so this upload leaves the field empty and it cannot be confirmed",
                  REFUSED: "so it could not be read"}.get(upload, "so the field was saved empty")
        return (f"{name}: the form has “{warning.typed}”{where}, which is not {wanted}, "
                f"{effect}. Correct the form and upload it again to fill it in.")
    if warning.kind == CUT:
        return (f"{name}: the text{where} is {warning.typed} characters long; only the first 32,767 "
                f"(Excel's limit for one cell) {'were saved' if upload == SAVED else 'are kept'}.")
    if warning.kind == LABEL:
        return (f"{name}: cell {warning.cell} reads “{warning.typed}” instead of the form's question, "
                f"so the form may be an edited copy; the answer beside it was {'saved' if upload == SAVED else 'read'} as typed. Check it.")
    return f"{name}: {warning.message}"
