"""Field-by-field comparison of two normalised outcomes (pure).

Nested documents (payload, merged_misc_json, base_misc_json) are compared key by key, so
a mismatch names `payload.facility_name`, not just `payload`; field changes are compared
per key as `changes.<key>`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

NESTED = ("payload", "merged_misc_json", "base_misc_json")
MISSING = "<absent>"


@dataclass(frozen=True)
class FieldDiff:
    """One field on which control and candidate differ."""

    field: str
    control: Any
    candidate: Any

    @property
    def top(self) -> str:
        """The outcome field this difference belongs to (`payload` for `payload.x`)."""
        return self.field.split(".", 1)[0]


def _same(a: Any, b: Any) -> bool:
    if a == b:
        # 1 == 1.0 == True: equal for ==, different for a user; compare types of scalars too
        return type(a) is type(b) or (isinstance(a, (int, float)) and isinstance(b, (int, float))
                                      and not isinstance(a, bool) and not isinstance(b, bool))
    return False


def diff(control: dict[str, Any], candidate: dict[str, Any]) -> list[FieldDiff]:
    """Every differing field, in a stable order."""
    found: list[FieldDiff] = []
    for name in sorted(set(control) | set(candidate)):
        a, b = control.get(name, MISSING), candidate.get(name, MISSING)
        if name in NESTED and isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b)):
                ka, kb = a.get(key, MISSING), b.get(key, MISSING)
                if not _same(ka, kb):
                    found.append(FieldDiff(f"{name}.{key}", ka, kb))
        elif name == "changes" and isinstance(a, list) and isinstance(b, list):
            ca, cb = {c[0]: c for c in a}, {c[0]: c for c in b}
            for key in sorted(set(ca) | set(cb)):
                if ca.get(key) != cb.get(key):
                    found.append(FieldDiff(f"changes.{key}", ca.get(key, MISSING), cb.get(key, MISSING)))
        elif not _same(a, b):
            found.append(FieldDiff(name, a, b))
    return found
