"""The per-process decision cache: a short-TTL snapshot of every flag, fail-safe on errors.

Decisions read an immutable snapshot. Who reloads it is the cache's `Refresh` mode:

- `on_request` (the default; CLI tools, one-off scripts): once the snapshot is older than
  `ttl`, the next decision reloads it from the store (one thread reloads, the others keep
  answering from the snapshot meanwhile). Cold start waits for the loader.
- `background` (the portal, the OpenFeature provider): one daemon thread per process
  (`flags.refresher`) reloads every `ttl`; a decision never touches the store, so a
  frozen, dead or slow store costs requests nothing. The first decision of a process
  that never read the store waits for the thread's first attempt, at most `cold_wait`.
- `manual`: as `background`, but nothing starts a thread; the owner calls `tick()` or
  `reload()` (tests with an injected clock, embedders with a scheduler of their own).

The fallback rules are the same in every mode: when a reload fails, the last snapshot
keeps answering as "last known" until it is `max_stale` old; after that the answer is
"safe default" (no state: the caller uses the original path, shadow off). Reloads after
a failure are attempted at most every `retry_interval`. In the background modes a
snapshot that missed a whole reload (older than `2 * ttl`: the reader is stuck) also
counts as last known, and one older than `max_stale` as the safe default, even when no
read has failed yet.

Health listeners hear the store's health (a `Source`) after every reload attempt and
every refresher tick; change listeners hear which flags a reload found changed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from flags.clock import Clock
from flags.decision import Source
from flags.refresher import Refresher
from flags.state import FlagState

__all__ = ["HealthListener", "Refresh", "Snapshot", "StateCache"]

log = logging.getLogger(__name__)

# hook(source, last_error): the store's health as decisions see it now.
HealthListener = Callable[[str, "BaseException | None"], None]
ChangeListener = Callable[[tuple[str, ...]], None]
# A background snapshot this many TTLs old missed a whole reload: its reader is stuck.
STUCK_AFTER_TTLS = 2.0
MIN_TICK = 0.005
# How long the writer of a change waits to reload itself before leaving it to the thread.
WRITER_RELOAD_WAIT = 1.0


class Refresh:
    """Who reloads the snapshot: the request that finds it expired, or a background thread."""

    ON_REQUEST = "on_request"
    BACKGROUND = "background"
    MANUAL = "manual"

    ALL = (ON_REQUEST, BACKGROUND, MANUAL)


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
        refresh: str = Refresh.ON_REQUEST,
        cold_wait: float = 2.0,
        on_fork: Callable[[], None] | None = None,
    ) -> None:
        if ttl <= 0 or max_stale < ttl:
            raise ValueError("need 0 < ttl <= max_stale")
        if refresh not in Refresh.ALL:
            raise ValueError(f"refresh must be one of {', '.join(Refresh.ALL)}, got {refresh!r}")
        self._load = load
        self._clock = clock
        self.ttl = ttl
        self.max_stale = max_stale
        self.retry_interval = ttl if retry_interval is None else retry_interval
        self.refresh = refresh
        self.cold_wait = cold_wait
        self._background = refresh != Refresh.ON_REQUEST
        self._stuck_after = STUCK_AFTER_TTLS * ttl if self._background else float("inf")
        self._on_fork = on_fork
        self._snapshot: Snapshot | None = None
        self._failing = False
        self._next_attempt = float("-inf")
        self._lock = threading.Lock()
        self._attempted = threading.Event()
        self._reloaded = threading.Event()  # set after every reload attempt
        self._health_listeners: list[HealthListener] = []
        self._change_listeners: list[ChangeListener] = []
        self._refresher = Refresher(self) if refresh == Refresh.BACKGROUND else None
        self.last_error: BaseException | None = None

    # -- what decisions read ---------------------------------------------------------

    def current(self) -> tuple[Mapping[str, FlagState] | None, str]:
        """The states to decide with and their `Source`; states is None for the safe default."""
        if self._background:
            return self._read()
        snapshot = self._snapshot
        now = self._clock.monotonic()
        if snapshot is not None and now < snapshot.expires_at:
            return snapshot.states, Source.STORE
        return self._refresh(now)

    def versions(self) -> dict[str, int]:
        """The version of each flag in the snapshot decisions use now (empty before the first read);
        reads nothing, so it is safe inside a change listener."""
        snapshot = self._snapshot
        return {} if snapshot is None else {name: state.version for name, state in snapshot.states.items()}

    def health(self) -> str:
        """The `Source` decisions would have now (store, last_known or safe_default)."""
        return self._judge(self._snapshot, self._clock.monotonic())[1]

    @property
    def refresher(self) -> Refresher | None:
        """The background thread's owner (`background` mode only)."""
        return self._refresher

    @property
    def attempted(self) -> bool:
        """True once this cache has tried to read the store at least once."""
        return self._attempted.is_set()

    def _read(self) -> tuple[Mapping[str, FlagState] | None, str]:
        if self._refresher is not None and not self._refresher.running:
            self._first_decision_of_process()
        snapshot = self._snapshot
        if snapshot is None and not self._attempted.is_set():
            # A process that never read the store: wait (bounded) for the first attempt.
            if self._refresher is None or not self._refresher.running:
                self.reload()
            else:
                self._attempted.wait(self.cold_wait)
            snapshot = self._snapshot
        return self._judge(snapshot, self._clock.monotonic())

    def _first_decision_of_process(self) -> None:
        """Start the refresher; a snapshot read before it ran (at start-up, before a fork) and
        older than `ttl` is not decided from: wait (at most `cold_wait`) for the thread's
        first reload, or a kill made since start-up would miss this process's first request."""
        snapshot = self._snapshot
        stale = snapshot is not None and self._clock.monotonic() - snapshot.loaded_at >= self.ttl
        if stale:
            self._reloaded.clear()
        self._refresher.ensure_running()
        if stale:
            self._reloaded.wait(self.cold_wait)

    def _judge(self, snapshot: Snapshot | None, now: float) -> tuple[Mapping[str, FlagState] | None, str]:
        if snapshot is None:
            return None, Source.SAFE_DEFAULT
        age = now - snapshot.loaded_at
        if self._failing:
            return (snapshot.states, Source.LAST_KNOWN) if age <= self.max_stale else (None, Source.SAFE_DEFAULT)
        if not self._background:
            return snapshot.states, Source.STORE  # an idle process's old snapshot is reread on use
        if age > self.max_stale:
            return None, Source.SAFE_DEFAULT
        if age >= self._stuck_after:
            return snapshot.states, Source.LAST_KNOWN
        return snapshot.states, Source.STORE

    # -- reloading -------------------------------------------------------------------

    def reload(self, wait: float | None = None) -> bool:
        """Read the store now and install the result; True when it answered; never raises.

        `wait` bounds how long to wait for a reload already in progress (None: as long as
        it takes); when it runs out, nothing is read and False is returned.
        """
        if not self._lock.acquire(timeout=-1 if wait is None else wait):
            return False
        try:
            ok = self._attempt(self._clock.monotonic())
        finally:
            self._lock.release()
        self._report_health()
        return ok

    def tick(self) -> float:
        """One refresher step: reload if due, report health; seconds until the next step."""
        now = self._clock.monotonic()
        if now >= self._due():
            self.reload()
        else:
            self._report_health()
        delay = self._due() - self._clock.monotonic()
        # Wake at least every ttl, so health reports follow the snapshot's age.
        return min(max(delay, MIN_TICK), self.ttl)

    def _due(self) -> float:
        if self._failing:
            return self._next_attempt
        snapshot = self._snapshot
        return float("-inf") if snapshot is None else snapshot.expires_at

    def invalidate(self) -> None:
        """This process wrote a change: decide from fresh state at once."""
        snapshot = self._snapshot
        if snapshot is not None:
            self._snapshot = Snapshot(snapshot.states, snapshot.loaded_at, float("-inf"))
        self._next_attempt = float("-inf")
        if self._background:
            # The writer reads back what it wrote (it just reached the store); if the
            # thread is stuck in a read, the thread picks the change up when it can.
            if not self.reload(wait=WRITER_RELOAD_WAIT) and self._refresher is not None:
                self._refresher.wake()

    def _refresh(self, now: float) -> tuple[Mapping[str, FlagState] | None, str]:
        # Cold start waits for the loader; a warm cache lets one thread reload while the
        # others answer from the snapshot they have.
        if self._lock.acquire(blocking=self._snapshot is None):
            attempted = False
            try:
                snapshot = self._snapshot
                if snapshot is not None and now < snapshot.expires_at:
                    return snapshot.states, Source.STORE
                if now >= self._next_attempt:
                    attempted = True
                    if self._attempt(now):
                        return self._snapshot.states, Source.STORE  # type: ignore[union-attr]
            finally:
                self._lock.release()
                if attempted:
                    self._report_health()
        return self._fallback(now)

    def _attempt(self, now: float) -> bool:
        """Load once (caller holds the lock); record the snapshot or the failure."""
        try:
            states = dict(self._load())
        except Exception as error:  # a store error must never reach a request
            self._record_failure(now, error)
            self._reloaded.set()
            return False
        finally:
            self._attempted.set()
        previous = self._snapshot
        self._snapshot = Snapshot(states, now, now + self.ttl)
        if self._failing:
            log.warning("flag store reachable again; decisions use fresh state")
        self._failing = False
        self.last_error = None
        if previous is not None and previous.states != states:
            changed = tuple(sorted(n for n in set(states) | set(previous.states) if states.get(n) != previous.states.get(n)))
            self._notify(self._change_listeners, changed)
        self._reloaded.set()
        return True

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

    # -- listeners, fork, close ------------------------------------------------------

    def add_health_listener(self, listener: HealthListener) -> None:
        """Call `listener(source, last_error)` after every reload attempt and refresher tick."""
        self._health_listeners.append(listener)

    def remove_health_listener(self, listener: HealthListener) -> None:
        """Stop calling `listener` (no error if it was not added)."""
        if listener in self._health_listeners:
            self._health_listeners.remove(listener)

    def add_change_listener(self, listener: ChangeListener) -> None:
        """Call `listener(flag_names)` when a reload finds flags changed."""
        self._change_listeners.append(listener)

    def _report_health(self) -> None:
        if self._health_listeners:
            self._notify(self._health_listeners, self.health(), self.last_error)

    @staticmethod
    def _notify(listeners: list, *args: object) -> None:
        for listener in list(listeners):
            try:
                listener(*args)
            except Exception:
                log.exception("flag cache listener %r raised (ignored)", listener)

    def after_fork(self) -> None:
        """In a forked child: a fresh lock (the parent's thread may have held it), fresh connections."""
        self._lock = threading.Lock()
        attempted, self._attempted = self._attempted.is_set(), threading.Event()
        if attempted:
            self._attempted.set()
        self._reloaded = threading.Event()
        if self._on_fork is not None:
            self._on_fork()

    def close(self) -> None:
        """Stop the background thread, if any."""
        if self._refresher is not None:
            self._refresher.stop()
