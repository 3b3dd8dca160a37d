"""The flags the harness knows, by name (the names dashboards and ops scripts rely on)."""

from __future__ import annotations

from flags.errors import UnknownFlag

__all__ = [
    "ALL_FLAGS",
    "REFACTORED_FLAGS",
    "REFACTORED_STAGED_UPLOAD",
    "REFACTORED_UPLOAD",
    "SHADOW_FLAGS",
    "SHADOW_STAGED_UPLOAD",
    "SHADOW_UPLOAD",
    "require_known",
]

REFACTORED_UPLOAD = "refactored_upload"
REFACTORED_STAGED_UPLOAD = "refactored_staged_upload"
SHADOW_UPLOAD = "shadow_upload"
SHADOW_STAGED_UPLOAD = "shadow_staged_upload"

# The flags a rollback turns off: the ones that route users to the refactored path.
REFACTORED_FLAGS: tuple[str, ...] = (REFACTORED_UPLOAD, REFACTORED_STAGED_UPLOAD)
SHADOW_FLAGS: tuple[str, ...] = (SHADOW_UPLOAD, SHADOW_STAGED_UPLOAD)
ALL_FLAGS: tuple[str, ...] = REFACTORED_FLAGS + SHADOW_FLAGS


def require_known(name: str, known: tuple[str, ...] = ALL_FLAGS) -> str:
    """Return `name` if it is a known flag, else raise `UnknownFlag` listing the known ones."""
    if name not in known:
        raise UnknownFlag(str(name), known)
    return name
