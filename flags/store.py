"""Flag stores: flipper's store interface plus the three things the harness adds.

Every store here *is* a flipper `AbstractFeatureFlagStore` (flipper's `FeatureFlagClient`
can read it) and adds:

- `read(names)`: every named flag's state in one round trip (the decision cache's load);
- `update(names, change)`: an atomic read-modify-write of several flags *and* their audit
  entries, retried on a concurrent write (optimistic, on the state's `version`), so two
  operators or processes never lose each other's change and a rollback is all-or-nothing;
- `history(query)`: the audit log, newest first.

`flags.backends.open_store(url)` picks the store from one URL (the concrete stores import
this module, never the other way round).
"""

from __future__ import annotations

import threading
from abc import abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Iterator, Optional

from flipper.contrib.interface import AbstractFeatureFlagStore
from flipper.contrib.memory import MemoryFeatureFlagStore

from flags.audit import AuditEntry, AuditQuery
from flags.errors import ConcurrentUpdate
from flags.state import FlagState

__all__ = ["Change", "FlagStore", "MemoryFlagStore"]

# A change: given the current states (None for a flag not stored yet), the new states to
# write and the audit entries recording them. Returning no states writes nothing.
Change = Callable[[Mapping[str, FlagState | None]], tuple[Sequence[FlagState], Sequence[AuditEntry]]]

MAX_ATTEMPTS = 20


class FlagStore(AbstractFeatureFlagStore):
    """A flipper store with batch read, atomic audited update and the audit log."""

    description: str = "store"

    @abstractmethod
    def read(self, names: Sequence[str]) -> dict[str, FlagState]:
        """The stored states of the named flags (absent flags are left out)."""

    @abstractmethod
    def update(self, names: Sequence[str], change: Change) -> list[FlagState]:
        """Apply `change` atomically to the named flags; returns the states written."""

    @abstractmethod
    def history(self, query: AuditQuery) -> list[AuditEntry]:
        """Audit entries matching the query, newest first."""

    def close(self) -> None:
        """Release connections (the default has none)."""

    def after_fork(self) -> None:
        """In a forked child: stop using connections inherited from the parent (default: none)."""


def check_versions(current: Mapping[str, FlagState | None], new_states: Sequence[FlagState]) -> None:
    """Each written state must be exactly one version past the one it replaces."""
    for state in new_states:
        before = current.get(state.name)
        expected = 1 if before is None else before.version + 1
        if state.version != expected:
            raise ValueError(f"{state.name}: writing version {state.version}, expected {expected}")


class MemoryFlagStore(MemoryFeatureFlagStore, FlagStore):
    """In-process store for tests and one-off tools; thread-safe, not shared between processes."""

    description = "memory://"

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.RLock()
        self._audit: list[AuditEntry] = []

    def read(self, names: Sequence[str]) -> dict[str, FlagState]:
        """The named flags held in memory."""
        with self._lock:
            items = {name: self._memory.get(name) for name in names}
        return {name: FlagState.from_item(item) for name, item in items.items() if item is not None}

    def update(self, names: Sequence[str], change: Change) -> list[FlagState]:
        """Apply the change under the store's lock."""
        with self._lock:
            current: dict[str, FlagState | None] = {name: None for name in names}
            current.update(self.read(names))
            new_states, entries = change(current)
            check_versions(current, new_states)
            for state in new_states:
                self._save(state.to_item())
            self._audit.extend(entries)
            return list(new_states)

    def history(self, query: AuditQuery) -> list[AuditEntry]:
        """Matching entries, newest first."""
        with self._lock:
            entries = list(reversed(self._audit))
        return [entry for entry in entries if query.matches(entry)][: query.limit]

    # flipper's memory store is not thread-safe; serialise its read-modify-write methods.
    def create(self, feature_name: str, is_enabled: bool = False, client_data: Optional[dict] = None):
        """flipper's create (overwrites); prefer `update`."""
        with self._lock:
            return super().create(feature_name, is_enabled=is_enabled, client_data=client_data)

    def set(self, feature_name: str, is_enabled: bool):
        """flipper's set."""
        with self._lock:
            super().set(feature_name, is_enabled)

    def set_meta(self, feature_name: str, meta):
        """flipper's set_meta."""
        with self._lock:
            super().set_meta(feature_name, meta)

    def list(self, limit: Optional[int] = None, offset: int = 0) -> Iterator:
        """flipper's list, over a copy taken under the lock."""
        with self._lock:
            items = list(super().list(limit=limit, offset=offset))
        return iter(items)


def retrying(description: str, attempt: Callable[[], list[FlagState]], conflict: type[Exception]) -> list[FlagState]:
    """Run an optimistic `attempt` until it does not raise `conflict`, at most MAX_ATTEMPTS times."""
    for _ in range(MAX_ATTEMPTS):
        try:
            return attempt()
        except conflict:
            continue
    raise ConcurrentUpdate(description, "update")
