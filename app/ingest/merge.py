"""Merging an upload into an incidence's `misc_json` (pure functions).

Every key in the upload overwrites the stored value, blank values included; keys absent
from the upload are kept. Each changed field is one audit row, except a field going
from nothing to nothing: None -> None, None -> "" and None -> "Please Select".
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from app.forms.schema import PLEASE_SELECT
from app.ingest.outcome import FieldChange

EMPTY_VALUES = (None, "", PLEASE_SELECT)


@dataclass(frozen=True)
class MergePlan:
    """The write an upload makes to one incidence, computed against a base state."""

    id_incidence: int
    base_misc_json: dict | None
    merged_misc_json: dict
    changes: tuple[FieldChange, ...]


def is_empty(value: object) -> bool:
    """None, an empty string or the dropdowns' unanswered "Please Select"."""
    return any(value is empty or value == empty for empty in EMPTY_VALUES)


def is_logged_change(old: object, new: object) -> bool:
    """True when going from `old` to `new` gets a `portal_updates` row."""
    if old == new and type(old) is type(new):
        return False
    if isinstance(old, (int, float)) and isinstance(new, (int, float)) and not isinstance(old, bool) and old == new:
        return False
    return not (old is None and is_empty(new))


def field_changes(base: Mapping | None, updates: Mapping, keys: Iterable[str] | None = None) -> tuple[FieldChange, ...]:
    """The logged changes from `base` to `updates` over `keys` (default: all of `updates`)."""
    base = base or {}
    keys = updates.keys() if keys is None else keys
    return tuple(FieldChange(k, base.get(k), updates[k]) for k in keys if is_logged_change(base.get(k), updates[k]))


def plan_merge(id_incidence: int, base: Mapping | None, payload: Mapping) -> MergePlan:
    """Merge `payload` into `base` (None: the incidence does not exist yet)."""
    merged = {**(base or {}), **payload}
    return MergePlan(id_incidence, None if base is None else dict(base), merged, field_changes(base, payload))


def audit_text(value: object) -> str | None:
    """A value as written to `portal_updates`: text as is, anything else as JSON."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)
