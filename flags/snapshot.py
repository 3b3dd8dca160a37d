"""What the flags look like to decisions right now: each flag's status, for gauges and pages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from flags.state import FlagState

__all__ = ["FlagStatus", "FlagsSnapshot", "snapshot_of"]


@dataclass(frozen=True)
class FlagStatus:
    """One flag's effective settings, for gauges."""

    name: str
    percent: float
    enabled: bool  # can turn on for someone: not killed, and percent > 0 or an allow list
    killed: bool
    allow_count: int
    deny_count: int


@dataclass(frozen=True)
class FlagsSnapshot:
    """Every flag's status as decisions currently see it, and where that came from."""

    flags: tuple[FlagStatus, ...]
    source: str

    def get(self, name: str) -> FlagStatus | None:
        """The status of one flag, or None."""
        return next((status for status in self.flags if status.name == name), None)


def snapshot_of(names: Sequence[str], states: Mapping[str, FlagState] | None, source: str) -> FlagsSnapshot:
    """The status of each named flag in `states` (a missing flag, or no states, reads as off at 0%)."""
    statuses = []
    for name in names:
        state = (states or {}).get(name)
        if state is None:
            statuses.append(FlagStatus(name, 0.0, False, False, 0, 0))
        else:
            serving = not state.killed and (state.percent > 0 or bool(state.allow))
            statuses.append(FlagStatus(name, state.percent, serving, state.killed, len(state.allow), len(state.deny)))
    return FlagsSnapshot(tuple(statuses), source)
