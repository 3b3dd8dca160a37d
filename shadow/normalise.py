"""Outcomes reduced to what two paths must agree on, with volatile values removed by rule.

Each rule below names a field that differs between any two runs by construction, and
why; nothing else is dropped. What stays: success, error type and code and message,
incidence id, sector, parsed payload, warnings, and the persistence effect (direct: the
merged `misc_json` and the field changes; staged: the staged payload and `base_misc_json`).
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

VOLATILE = {
    "path": "names which path produced the outcome: differs by definition",
    "upload_id": "a row id assigned by the database to the control's upload record",
    "saved_filename": "the stored upload's name carries the UTC time it was saved",
    "staged_filename": "the staged file's name carries the UTC time it was staged",
}


def normalise(outcome: Any) -> dict[str, Any]:
    """A plain dict of the outcome's comparable fields; field changes become a sorted list."""
    data = {}
    for f in fields(outcome):
        if f.name in VOLATILE:
            continue
        value = getattr(outcome, f.name)
        if f.name == "changes":
            value = sorted(([c.key, c.old, c.new] for c in value), key=lambda c: c[0])
        elif f.name == "warnings":
            value = list(value)
        data[f.name] = value
    return data
