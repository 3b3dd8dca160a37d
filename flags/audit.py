"""The audit log: one frozen `AuditEntry` per change, and the filter used to list them."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = ["ACTIONS", "OS_USER_MARK", "AuditEntry", "AuditQuery", "with_os_user"]

# The CLI records the operating-system user beside the actor it was given:
# "alice (os user root)". Filtering by "alice" finds those entries too.
OS_USER_MARK = " (os user "
ACTIONS = ("create", "percent", "allow", "deny", "unallow", "undeny", "kill", "resume", "restore")


@dataclass(frozen=True)
class AuditEntry:
    """Who changed which flag, when, from what to what, and why."""

    flag: str
    action: str
    actor: str
    at: datetime
    old: Any = None
    new: Any = None
    reason: str | None = None
    id: str = ""

    def __post_init__(self) -> None:
        if not self.id:
            object.__setattr__(self, "id", uuid.uuid4().hex)
        if self.at.tzinfo is None:
            object.__setattr__(self, "at", self.at.replace(tzinfo=UTC))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (CLI, admin API, Redis storage)."""
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "flag": self.flag,
            "action": self.action,
            "actor": self.actor,
            "old": self.old,
            "new": self.new,
            "reason": self.reason,
        }

    def to_json(self) -> str:
        """The entry as one JSON document."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuditEntry:
        """Rebuild an entry from `to_dict` output."""
        return cls(
            id=data["id"],
            at=datetime.fromisoformat(data["at"]),
            flag=data["flag"],
            action=data["action"],
            actor=data["actor"],
            old=data.get("old"),
            new=data.get("new"),
            reason=data.get("reason"),
        )


@dataclass(frozen=True)
class AuditQuery:
    """Filters for listing the audit log (newest first, at most `limit` entries)."""

    flag: str | None = None
    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    limit: int = 50

    def matches(self, entry: AuditEntry) -> bool:
        """True when the entry passes every filter that is set."""
        return (
            (self.flag is None or entry.flag == self.flag)
            and (self.actor is None or entry.actor == self.actor or entry.actor.startswith(self.actor + OS_USER_MARK))
            and (self.action is None or entry.action == self.action)
            and (self.since is None or entry.at >= self.since)
        )


def with_os_user(actor: str, os_user: str) -> str:
    """`actor`, with the operating-system user beside it when that is someone else."""
    return actor if actor == os_user or not os_user else f"{actor}{OS_USER_MARK}{os_user})"
