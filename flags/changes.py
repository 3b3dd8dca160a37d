"""Operator changes: the bounds on what an operator may type, and the shapes of what a change writes.

The flag service validates every changing call here first (actor, reason, user ids), so
bad input fails loud before the store is touched, and builds new states and audit
entries here so `create` and `restore` entries look the same wherever they are written.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from flags.audit import AuditEntry
from flags.errors import InvalidReason, InvalidUserId, InvalidValue
from flags.rollout import normalise_user_id
from flags.state import FlagState

__all__ = ["MAX_ACTOR_LENGTH", "MAX_REASON_LENGTH", "MAX_USER_ID_LENGTH", "SYSTEM_ACTOR"]

SYSTEM_ACTOR = "system"
MAX_ACTOR_LENGTH = 200
# Operator input is bounded so a pasted log or a runaway script cannot fill the audit log.
MAX_REASON_LENGTH = 1000
MAX_USER_ID_LENGTH = 255

_VOLATILE = {"version": 0, "created_at": None, "updated_at": None, "updated_by": None}


def new_state(name: str, now: datetime, actor: str) -> FlagState:
    """A flag as `ensure_flags` creates it: 0%, not killed, version 1."""
    return FlagState(name=name, version=1, created_at=now, updated_at=now, updated_by=actor)


def created_entry(state: FlagState, now: datetime, actor: str) -> AuditEntry:
    """The audit entry for a flag's creation."""
    return AuditEntry(
        flag=state.name, action="create", actor=actor, at=now, old=None,
        new={"percent": state.percent, "killed": state.killed}, reason=None,
    )


def summary(state: FlagState | None) -> dict | None:
    """A state's settings as a restore entry records them (None: the flag did not exist)."""
    if state is None:
        return None
    return {"percent": state.percent, "killed": state.killed, "allow": len(state.allow), "deny": len(state.deny)}


def switch(state: FlagState) -> str:
    """The kill switch's position, as kill and resume entries record it."""
    return "killed" if state.killed else "active"


def restore_writes(
    names: Sequence[str],
    current: Mapping[str, FlagState | None],
    known: Mapping[str, FlagState],
    *,
    now: datetime,
    actor: str,
    reason: str,
) -> tuple[list[FlagState], list[AuditEntry]]:
    """The states and `restore` entries that put the last known settings back where they differ."""
    written, entries = [], []
    for name in names:
        before, target = current.get(name), known.get(name)
        if target is None or (before is not None and before.evolve(**_VOLATILE) == target.evolve(**_VOLATILE)):
            continue
        version = 1 if before is None else before.version + 1
        written.append(target.evolve(version=version, updated_at=now, updated_by=actor,
                                     created_at=target.created_at or now))
        entries.append(AuditEntry(flag=name, action="restore", actor=actor, at=now, old=summary(before),
                                  new=summary(target), reason=reason))
    return written, entries


def require_actor(actor: object) -> str:
    """Who is making the change: required, stripped, bounded."""
    if not isinstance(actor, str) or not actor.strip():
        raise InvalidValue(actor, "an actor (who is making the change) is required")
    actor = actor.strip()
    if len(actor) > MAX_ACTOR_LENGTH:
        raise InvalidValue(actor, f"actor is longer than {MAX_ACTOR_LENGTH} characters")
    return actor


def bounded_reason(reason: object) -> str | None:
    """An optional reason: stripped and bounded; blank reads as none."""
    if reason is None:
        return None
    if not isinstance(reason, str):
        raise InvalidReason(reason, "reason must be text")
    reason = reason.strip()
    if len(reason) > MAX_REASON_LENGTH:
        raise InvalidReason(reason[:40], f"reason is {len(reason)} characters; at most {MAX_REASON_LENGTH} are kept")
    return reason or None


def require_reason(reason: object) -> str:
    """A required reason (kill, rollback, restore)."""
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidReason(reason, "a reason is required")
    return bounded_reason(reason) or ""


def user_ids(users: Iterable[object]) -> frozenset[str]:
    """One or more user ids, normalised and bounded; at least one is required."""
    if isinstance(users, (str, bytes, int)):
        users = [users]
    ids = frozenset(normalise_user_id(user) for user in users)
    for user in ids:
        if len(user) > MAX_USER_ID_LENGTH:
            raise InvalidUserId(user[:40], f"user id is {len(user)} characters; at most {MAX_USER_ID_LENGTH} are allowed")
    if not ids:
        raise InvalidUserId(None, "give at least one user id")
    return ids
