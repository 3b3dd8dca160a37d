"""A flag's stored state as a frozen value, and its round trip through flipper's item format.

The stored form is flipper's own `FeatureFlagStoreItem` serialization, so any flipper
store can hold it: flipper's `is_enabled` is the kill switch's complement (a killed flag
is a disabled flipper flag) and the rollout rules live in `client_data`. Flipper's
conditions and bucketer stay empty: they cannot combine allow/deny with a percentage.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from flipper.contrib.storage import FeatureFlagStoreItem, FeatureFlagStoreMeta

__all__ = ["FlagState"]


@dataclass(frozen=True)
class FlagState:
    """Everything that decides a flag: percent, allow/deny lists, kill switch."""

    name: str
    percent: float = 0.0
    allow: frozenset[str] = field(default_factory=frozenset)
    deny: frozenset[str] = field(default_factory=frozenset)
    killed: bool = False
    kill_reason: str | None = None
    version: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None
    updated_by: str | None = None

    def evolve(self, **changes: Any) -> FlagState:
        """A copy with the changes applied (version bumped by the store, not here)."""
        return replace(self, **changes)

    def to_item(self) -> FeatureFlagStoreItem:
        """The flipper item that stores this state."""
        created = int((self.created_at or datetime.now(UTC)).timestamp())
        client_data = {
            "percent": self.percent,
            "allow": sorted(self.allow),
            "deny": sorted(self.deny),
            "kill_reason": self.kill_reason,
            "version": self.version,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
            "updated_by": self.updated_by,
        }
        return FeatureFlagStoreItem(self.name, not self.killed, FeatureFlagStoreMeta(created, client_data))

    def serialize(self) -> bytes:
        """Flipper's serialized item bytes (JSON)."""
        return self.to_item().serialize()

    @classmethod
    def from_item(cls, item: FeatureFlagStoreItem) -> FlagState:
        """Read a state back from a flipper item (missing keys take the defaults)."""
        meta = item.meta
        data = meta.get("client_data") or {}
        updated_at = data.get("updated_at")
        created = meta.get("created_date")
        return cls(
            name=item.feature_name,
            percent=float(data.get("percent", 0.0)),
            allow=frozenset(data.get("allow", ())),
            deny=frozenset(data.get("deny", ())),
            killed=not item.raw_is_enabled,
            kill_reason=data.get("kill_reason"),
            version=int(data.get("version", 0)),
            created_at=datetime.fromtimestamp(created, UTC) if created is not None else None,
            updated_at=datetime.fromisoformat(updated_at) if updated_at else None,
            updated_by=data.get("updated_by"),
        )

    @classmethod
    def deserialize(cls, raw: bytes | str) -> FlagState:
        """Parse flipper's serialized item bytes."""
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        return cls.from_item(FeatureFlagStoreItem.deserialize(raw))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view for the CLI and admin API."""
        return {
            "name": self.name,
            "percent": self.percent,
            "allow": sorted(self.allow),
            "deny": sorted(self.deny),
            "killed": self.killed,
            "kill_reason": self.kill_reason,
            "version": self.version,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
            "updated_by": self.updated_by,
        }
