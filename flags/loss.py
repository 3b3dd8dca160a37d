"""Noticing a flag store that lost its state (restarted empty, restored from an old backup,
flushed by mistake) instead of silently deciding from the reset flags.

Each process keeps the last state it read that it trusts (`baseline`), also written to a
small file (`FileKnownState`, in the portal's instance folder) so a process started after
the loss knows it too. A read is a loss when a flag of the baseline is missing, or came
back with a lower version and different settings (a store that starts over counts
versions from 1 again). Then decisions keep using the baseline, `lost` says what happened,
and `FlagService.restore` writes the baseline back (a restore has the baseline's settings,
so it is accepted although its version is lower). Any read that is not a loss becomes
the new baseline.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from flags.state import FlagState

__all__ = ["FileKnownState", "KnownState", "LossGuard", "MemoryKnownState", "find_loss"]

log = logging.getLogger(__name__)


def _settings(state: FlagState) -> tuple:
    return (state.percent, state.allow, state.deny, state.killed)


def find_loss(baseline: Mapping[str, FlagState], loaded: Mapping[str, FlagState]) -> tuple[str, ...]:
    """What a read lost against the baseline, one sentence per flag (empty: nothing lost)."""
    lost = []
    for name, known in sorted(baseline.items()):
        now = loaded.get(name)
        if now is None:
            lost.append(f"{name} vanished (was version {known.version}, {known.percent:g}%)")
        elif now.version < known.version and _settings(now) != _settings(known):
            lost.append(f"{name} reset to version {now.version}, {now.percent:g}%"
                        f"{' killed' if now.killed else ''} (was version {known.version}, {known.percent:g}%"
                        f"{' killed' if known.killed else ''})")
    return tuple(lost)


class KnownState(Protocol):
    """Where the last trusted state survives a process restart."""

    def load(self) -> dict[str, FlagState]:
        """The saved baseline ({} when none)."""
        ...

    def save(self, states: Mapping[str, FlagState]) -> None:
        """Save a new baseline."""
        ...


class MemoryKnownState:
    """A baseline kept in this process only."""

    def __init__(self) -> None:
        self._states: dict[str, FlagState] = {}

    def load(self) -> dict[str, FlagState]:
        """The saved baseline."""
        return dict(self._states)

    def save(self, states: Mapping[str, FlagState]) -> None:
        """Keep `states`."""
        self._states = dict(states)


class FileKnownState:
    """A baseline in a JSON file, replaced whole (temporary, flush, rename)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def load(self) -> dict[str, FlagState]:
        """The saved baseline ({} when there is none or it cannot be read)."""
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            return {name: FlagState.deserialize(item) for name, item in raw["flags"].items()}
        except FileNotFoundError:
            return {}
        except (ValueError, KeyError, TypeError) as error:
            log.warning("flag baseline %s unreadable (%s); starting without one", self.path, error)
            return {}

    def save(self, states: Mapping[str, FlagState]) -> None:
        """Replace the file with `states` (a failure is logged: it only weakens detection)."""
        document = {"flags": {name: state.serialize().decode("utf-8") for name, state in states.items()}}
        partial = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(partial, "w", encoding="utf-8") as handle:
                json.dump(document, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(partial, self.path)
        except OSError as error:
            log.warning("cannot save the flag baseline to %s: %s", self.path, error)
            partial.unlink(missing_ok=True)


class LossGuard:
    """Checks every read of the store against the baseline; on a loss, answers the baseline."""

    def __init__(self, known: KnownState | None = None) -> None:
        self.known = known or MemoryKnownState()
        self._baseline: dict[str, FlagState] | None = None
        self.lost: tuple[str, ...] = ()

    def baseline(self) -> dict[str, FlagState]:
        """The last trusted state (loaded from `known` on first use)."""
        if self._baseline is None:
            self._baseline = self.known.load()
        return dict(self._baseline)

    def check(self, loaded: Mapping[str, FlagState]) -> Mapping[str, FlagState]:
        """The states decisions should use: `loaded`, or the baseline when `loaded` lost it."""
        baseline = self.baseline()
        lost = find_loss(baseline, loaded)
        if lost:
            if lost != self.lost:
                log.error("flag store lost its state: %s; deciding from the last known state until "
                          "`harness flags restore`", "; ".join(lost))
            self.lost = lost
            return {**loaded, **baseline}
        if self.lost:
            log.warning("flag store state accepted again (restored or re-set)")
        self.lost = ()
        self.accept(loaded)
        return loaded

    def accept(self, states: Mapping[str, FlagState]) -> None:
        """Make `states` the baseline (saved when it changed)."""
        states = dict(states)
        if states != self._baseline:
            self._baseline = states
            self.known.save(states)
