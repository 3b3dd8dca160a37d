"""From a parsed workbook to what is stored: the payload and the incidence id (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from app.ingest.outcome import MISSING_ID, VALIDATION_ERROR, Failure
from app.workbook.cells import to_storage
from app.workbook.parse import ParsedWorkbook

MAX_ID = 2**63 - 1


@dataclass(frozen=True)
class IdCheck:
    """The incidence id, or why there is none."""

    id_incidence: int | None
    failure: Failure | None


def build_payload(parsed: ParsedWorkbook) -> dict:
    """The form's fields as stored in `misc_json` (datetimes as UTC text), plus `sector`."""
    payload = {key: to_storage(value) for key, value in parsed.form.items()}
    payload["sector"] = parsed.sector
    return payload


def check_id(raw: object) -> IdCheck:
    """The only hard rule at upload: `id_incidence` is a positive integer (an int or digits)."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return IdCheck(None, Failure(MISSING_ID, "missing_id",
                                     "the form has no Incidence/Emission ID (id_incidence); please fill it in and upload again"))
    value: int | None = None
    if isinstance(raw, int) and not isinstance(raw, bool):
        value = raw
    elif isinstance(raw, str) and raw.strip().isdigit() and raw.strip().isascii():
        value = int(raw.strip())
    if value is None or value <= 0 or value > MAX_ID:
        shown = repr(raw) if len(repr(raw)) <= 40 else repr(raw)[:37] + "..."
        return IdCheck(None, Failure(VALIDATION_ERROR, "invalid_id",
                                     f"the Incidence/Emission ID must be a positive whole number, but the form has {shown}"))
    return IdCheck(value, None)
