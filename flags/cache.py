"""The per-process decision cache: a short-TTL snapshot of every flag, fail-safe on errors.

Decisions read an immutable snapshot; once it is older than `ttl` the next decision
reloads it from the store (one thread reloads, the others keep answering from the
snapshot meanwhile). So a change made anywhere reaches every process within `ttl` plus
one store round trip. When a reload fails, the last snapshot keeps answering as "last
known" until it is `max_stale` old; after that the answer is "safe default" (no state:
the caller uses the original path, shadow off). Reloads after a failure are attempted at
most every `retry_interval`, so a dead store costs one timeout per interval, not one per
request.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from flags.clock import Clock
from flags.decision import Source
from flags.state import FlagState

__all__ = ["Snapshot", "StateCache"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Every flag's state as loaded at `loaded_at` (monotonic seconds)."""

    states: Mapping[str, FlagState]
    loaded_at: float
    expires_at: float


class StateCache:
    """Holds the current `Snapshot`, reloading it through `load` when it expires."""

    def __init__(
        self,
        load: Callable[[], Mapping[str, FlagState]],
        clock: Clock,
        ttl: float = 1.0,
        max_stale: float = 30.0,
        retry_interval: float | None = None,
    ) -> None:
        if ttl <= 0 or max_stale < ttl:
            raise ValueError("need 0 < ttl <= max_stale")
        self._load = load
        self._clock = clock
        self.ttl = ttl
        self.max_stale = max_stale
        self.retry_interval = ttl if retry_interval is None else retry_interval
        self._snapshot: Snapshot | None = None
        self._failing = False
        self._next_attempt = float("-inf")
        self._lock = threading.Lock()
        self.last_error: BaseException | None = None

    def current(self) -> tuple[Mapping[str, FlagState] | None, str]:
        """The states to decide with and their `Source`; states is None for the safe default."""
        snapshot = self._snapshot
        now = self._clock.monotonic()
        if snapshot is not None and now < snapshot.expires_at:
            return snapshot.states, Source.STORE
        return self._refresh(now)

    def invalidate(self) -> None:
        """Make the next decision reload (after this process wrote a change)."""
        snapshot = self._snapshot
        if snapshot is not None:
            self._snapshot = Snapshot(snapshot.states, snapshot.loaded_at, float("-inf"))
        self._next_attempt = float("-inf")

    def _refresh(self, now: float) -> tuple[Mapping[str, FlagState] | None, str]:
        # Cold start waits for the loader; a warm cache lets one thread reload while the
        # others answer from the snapshot they have.
        if self._lock.acquire(blocking=self._snapshot is None):
            try:
                snapshot = self._snapshot
                if snapshot is not None and now < snapshot.expires_at:
                    return snapshot.states, Source.STORE
                if now >= self._next_attempt:
                    try:
                        states = dict(self._load())
                    except Exception as error:  # a store error must never reach a request
                        self._record_failure(now, error)
                    else:
                        self._snapshot = Snapshot(states, now, now + self.ttl)
                        if self._failing:
                            log.warning("flag store reachable again; decisions use fresh state")
                        self._failing = False
                        self.last_error = None
                        return states, Source.STORE
            finally:
                self._lock.release()
        return self._fallback(now)

    def _record_failure(self, now: float, error: BaseException) -> None:
        if not self._failing:
            log.warning("flag store read failed, deciding from last known state: %r", error)
        self._failing = True
        self.last_error = error
        self._next_attempt = now + self.retry_interval

    def _fallback(self, now: float) -> tuple[Mapping[str, FlagState] | None, str]:
        snapshot = self._snapshot
        if snapshot is None:
            return None, Source.SAFE_DEFAULT
        if not self._failing:
            # Another thread is reloading right now; its result is moments away.
            return snapshot.states, Source.STORE
        if now - snapshot.loaded_at <= self.max_stale:
            return snapshot.states, Source.LAST_KNOWN
        return None, Source.SAFE_DEFAULT
