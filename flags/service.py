"""The flag service: decisions for the router (never raise) and changes for operators (fail loud).

Reads go through a per-process `StateCache` (short TTL, last-known state on store errors,
then the safe default). Every change is one atomic `store.update` that writes the new
states and their audit entries together, then invalidates this process's cache; other
processes see it when their snapshot expires (`ttl`). Flipper events are emitted around
each change through a `SafeEventEmitter`, so listeners observe changes but cannot block
them.

Operator input bounds and the states and audit entries a change writes live in
`flags.changes`; the flags' status for gauges in `flags.snapshot`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from flags.audit import ACTIONS, AuditEntry, AuditQuery
from flags.backends import open_store
from flags.cache import Refresh, StateCache
from flags.changes import (
    MAX_ACTOR_LENGTH,
    MAX_REASON_LENGTH,
    MAX_USER_ID_LENGTH,
    SYSTEM_ACTOR,
    bounded_reason,
    created_entry,
    new_state,
    require_actor,
    require_reason,
    restore_writes,
    switch,
    user_ids,
)
from flags.clock import Clock, SystemClock
from flags.decision import Decision, Reason, Source
from flags.errors import InvalidUserId, InvalidValue
from flags.events import EventType, SafeEventEmitter
from flags.loss import LossGuard
from flags.names import ALL_FLAGS, REFACTORED_FLAGS, require_known
from flags.rollout import evaluate, normalise_user_id, parse_percent
from flags.snapshot import FlagsSnapshot, FlagStatus, snapshot_of
from flags.state import FlagState
from flags.store import FlagStore

# FlagStatus, FlagsSnapshot (flags.snapshot) and the input bounds (flags.changes) are
# re-exported: callers import them from here.
__all__ = [
    "MAX_ACTOR_LENGTH", "MAX_REASON_LENGTH", "MAX_USER_ID_LENGTH", "SYSTEM_ACTOR",
    "FallbackHook", "FlagService", "FlagStatus", "FlagsSnapshot", "open_service",
]

log = logging.getLogger(__name__)

# Called as hook(flag, source) for every decision not made from fresh state, where
# source is "last_known" or "safe_default" (see flags.decision.Source).
FallbackHook = Callable[[str, str], None]

MAX_HISTORY = 1000

class FlagService:
    """Feature flags for the harness: `decide` for requests, audited changes for operators."""

    def __init__(
        self,
        store: FlagStore,
        *,
        clock: Clock | None = None,
        ttl: float = 1.0,
        max_stale: float = 30.0,
        retry_interval: float | None = None,
        flags: Sequence[str] = ALL_FLAGS,
        on_fallback: FallbackHook | None = None,
        events: SafeEventEmitter | None = None,
        refresh: str = Refresh.ON_REQUEST,
        cold_wait: float = 2.0,
        loss_guard: LossGuard | None = None,
    ) -> None:
        self.store = store
        self.loss_guard = loss_guard
        self.flags = tuple(flags)
        self.clock = clock or SystemClock()
        self.events = events or SafeEventEmitter()
        self._cache = StateCache(
            self._load, self.clock, ttl=ttl, max_stale=max_stale, retry_interval=retry_interval,
            refresh=refresh, cold_wait=cold_wait, on_fork=getattr(store, "after_fork", None),
        )
        self._fallback_hooks: list[FallbackHook] = [on_fallback] if on_fallback else []

    @property
    def ttl(self) -> float:
        """Seconds a process decides from one snapshot (the kill-switch propagation bound)."""
        return self._cache.ttl

    @property
    def max_stale(self) -> float:
        """Seconds the last known state is used while the store is unreachable."""
        return self._cache.max_stale

    @property
    def cache(self) -> StateCache:
        """The decision cache: its `refresh` mode, `attempted`, `last_error`, health and change listeners."""
        return self._cache

    def _load(self) -> Mapping[str, FlagState]:
        states = self.store.read(self.flags)
        return states if self.loss_guard is None else self.loss_guard.check(states)

    def store_loss(self) -> tuple[str, ...]:
        """What the store lost against the last known state (empty: nothing, or no guard)."""
        return self.loss_guard.lost if self.loss_guard is not None else ()

    def restore(self, *, actor: str, reason: str) -> list[FlagState]:
        """Write the last known state back to a store that lost it (audited as `restore`).

        Needs a loss guard; returns the states written (none when nothing differs)."""
        if self.loss_guard is None:
            raise InvalidValue(None, "this flag service keeps no last known state to restore")
        actor, reason = require_actor(actor), require_reason(reason)
        known = self.loss_guard.baseline()
        now = self.clock.now()

        def change(current: Mapping[str, FlagState | None]):
            return restore_writes(self.flags, current, known, now=now, actor=actor, reason=reason)

        written = self.store.update(self.flags, change)
        self.loss_guard.accept({**known, **{state.name: state for state in written}})
        self.loss_guard.lost = ()
        self._cache.invalidate()
        return written

    def reload(self) -> bool:
        """Read the store into the decision cache now (start-up, tests); True if it answered; never raises."""
        return self._cache.reload()

    def tick(self) -> float:
        """One refresher step (reload if due): the `manual` mode's owner calls it; seconds to the next."""
        return self._cache.tick()

    def health(self) -> str:
        """Where decisions come from right now: `store`, `last_known` or `safe_default` (a `Source`)."""
        return self._cache.health()

    # -- decisions: never raise ------------------------------------------------------

    def decide(self, flag: str, user_id: object) -> Decision:
        """Evaluate `flag` for a user: kill switch, deny, allow, sticky percentage, off."""
        try:
            states, source = self._cache.current()
            if states is None:
                self._report_fallback(flag, source)
                return Decision(flag, False, Reason.STORE_FALLBACK, source)
            if source != Source.STORE:
                self._report_fallback(flag, source)
            state = states.get(flag)
            if state is None:
                return Decision(flag, False, Reason.OFF, source)
            try:
                user: str | None = normalise_user_id(user_id)
            except InvalidUserId:
                user = None
            enabled, reason = evaluate(state, user)
            return Decision(flag, enabled, reason, source)
        except Exception:  # a bug here must still leave the request on the original path
            log.exception("flag decision for %r failed; using the safe default", flag)
            self._report_fallback(flag, Source.SAFE_DEFAULT)
            return Decision(flag, False, Reason.STORE_FALLBACK, Source.SAFE_DEFAULT)

    def is_enabled(self, flag: str, user_id: object) -> bool:
        """True when `decide` enables the flag for this user; never raises."""
        return self.decide(flag, user_id).enabled

    def snapshot(self) -> FlagsSnapshot:
        """Each flag's percent and enabled state as decisions see them now; never raises."""
        try:
            states, source = self._cache.current()
        except Exception:
            log.exception("flag snapshot failed")
            states, source = None, Source.SAFE_DEFAULT
        return snapshot_of(self.flags, states, source)

    def add_fallback_hook(self, hook: FallbackHook) -> None:
        """Call `hook(flag, source)` for every decision made without fresh store state."""
        self._fallback_hooks.append(hook)

    def _report_fallback(self, flag: str, source: str) -> None:
        for hook in list(self._fallback_hooks):
            try:
                hook(flag, source)
            except Exception:
                log.exception("flag fallback hook %r raised (ignored)", hook)

    # -- operator side: fail loud ----------------------------------------------------

    def ping(self) -> None:
        """Read the store once, bypassing the cache; raises `StoreUnavailable` if it cannot."""
        self.store.read(self.flags)

    def ensure_flags(self, actor: str = SYSTEM_ACTOR) -> tuple[str, ...]:
        """Create the flags that do not exist yet (0%, not killed); never resets existing ones."""
        actor = require_actor(actor)
        now = self.clock.now()

        def change(current: Mapping[str, FlagState | None]):
            created = [new_state(name, now, actor) for name, state in current.items() if state is None]
            return created, [created_entry(state, now, actor) for state in created]

        created = self.store.update(self.flags, change)
        for state in created:
            self.events.emit(EventType.POST_CREATE, state.name, is_enabled=True, client_data=state.to_item().meta["client_data"])
        if created:
            self._cache.invalidate()
        return tuple(state.name for state in created)

    def get(self, flag: str) -> FlagState:
        """The stored state of one flag, read fresh (a flag never created reads as 0%)."""
        require_known(flag, self.flags)
        return self.store.read([flag]).get(flag) or FlagState(flag)

    def list_flags(self) -> list[FlagState]:
        """Every known flag's stored state, read fresh, in `flags` order."""
        stored = self.store.read(self.flags)
        return [stored.get(name) or FlagState(name) for name in self.flags]

    def set_percent(self, flag: str, percent: object, *, actor: str, reason: str | None = None) -> FlagState:
        """Set the sticky rollout percent (0..100, fractions allowed)."""
        value = parse_percent(percent)
        return self._change_one(
            flag, "percent", actor, reason, lambda s: s.evolve(percent=value), lambda s: s.percent,
            EventType.PRE_SET_CLIENT_DATA, EventType.POST_SET_CLIENT_DATA, {"percent": value},
        )

    def allow(self, flag: str, users: Iterable[object], *, actor: str, reason: str | None = None) -> FlagState:
        """Add users to the allow list (on regardless of percent, unless denied or killed)."""
        ids = user_ids(users)
        return self._change_list(flag, "allow", "allow", actor, reason, lambda have: have | ids)

    def unallow(self, flag: str, users: Iterable[object], *, actor: str, reason: str | None = None) -> FlagState:
        """Remove users from the allow list."""
        ids = user_ids(users)
        return self._change_list(flag, "unallow", "allow", actor, reason, lambda have: have - ids)

    def deny(self, flag: str, users: Iterable[object], *, actor: str, reason: str | None = None) -> FlagState:
        """Add users to the deny list (off regardless of allow list and percent)."""
        ids = user_ids(users)
        return self._change_list(flag, "deny", "deny", actor, reason, lambda have: have | ids)

    def undeny(self, flag: str, users: Iterable[object], *, actor: str, reason: str | None = None) -> FlagState:
        """Remove users from the deny list."""
        ids = user_ids(users)
        return self._change_list(flag, "undeny", "deny", actor, reason, lambda have: have - ids)

    def kill(self, flag: str, *, actor: str, reason: str) -> FlagState:
        """Turn the flag off for everyone, keeping percent and lists for `resume`."""
        reason = require_reason(reason)
        return self._change_one(
            flag, "kill", actor, reason, lambda s: s.evolve(killed=True, kill_reason=reason), switch,
            EventType.PRE_DISABLE, EventType.POST_DISABLE, None,
        )

    def resume(self, flag: str, *, actor: str, reason: str | None = None) -> FlagState:
        """Lift the kill switch: the same users as before the kill are on again."""
        return self._change_one(
            flag, "resume", actor, reason, lambda s: s.evolve(killed=False, kill_reason=None), switch,
            EventType.PRE_ENABLE, EventType.POST_ENABLE, None,
        )

    def rollback(self, *, actor: str, reason: str) -> list[FlagState]:
        """Kill every refactored_* flag in one atomic write: everyone back on the original path."""
        reason = require_reason(reason)
        names = [name for name in REFACTORED_FLAGS if name in self.flags]
        return self._change(
            names, "kill", actor, f"rollback: {reason}",
            lambda s: s.evolve(killed=True, kill_reason=f"rollback: {reason}"), switch,
            EventType.PRE_DISABLE, EventType.POST_DISABLE, None,
        )

    def history(
        self,
        *,
        flag: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        limit: int = 50,
    ) -> list[AuditEntry]:
        """Audit entries, newest first, filtered by flag, actor, action and time."""
        if flag is not None:
            require_known(flag, self.flags)
        if action is not None and action not in ACTIONS:
            raise InvalidValue(action, f"unknown action {action!r}; actions: {', '.join(ACTIONS)}")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_HISTORY:
            raise InvalidValue(limit, f"limit must be a whole number from 1 to {MAX_HISTORY}")
        if since is not None:
            # Naive means UTC; aware times are converted (SQLite compares stored UTC text).
            since = since.replace(tzinfo=UTC) if since.tzinfo is None else since.astimezone(UTC)
        return self.store.history(AuditQuery(flag=flag, actor=actor, action=action, since=since, limit=limit))

    def close(self) -> None:
        """Stop the background refresher, if any, and release the store's connections."""
        self._cache.close()
        self.store.close()

    # -- the one way a change is made --------------------------------------------------

    def _change_list(self, flag, action, field_name, actor, reason, edit_set) -> FlagState:
        return self._change_one(
            flag, action, actor, reason,
            lambda s: s.evolve(**{field_name: frozenset(edit_set(getattr(s, field_name)))}),
            lambda s: sorted(getattr(s, field_name)),
            EventType.PRE_SET_CLIENT_DATA, EventType.POST_SET_CLIENT_DATA, {"action": action},
        )

    def _change_one(self, flag, action, actor, reason, edit, value, pre, post, event_data) -> FlagState:
        require_known(flag, self.flags)
        return self._change([flag], action, actor, reason, edit, value, pre, post, event_data)[0]

    def _change(
        self,
        names: Sequence[str],
        action: str,
        actor: str,
        reason: str | None,
        edit: Callable[[FlagState], FlagState],
        value: Callable[[FlagState], Any],
        pre: EventType,
        post: EventType,
        event_data: dict | None,
    ) -> list[FlagState]:
        actor = require_actor(actor)
        reason = bounded_reason(reason)
        now = self.clock.now()
        for name in names:
            self._emit(pre, name, event_data)

        def change(current: Mapping[str, FlagState | None]):
            written, entries = [], []
            for name in names:
                before = current[name]
                if before is None:  # never created (store wiped?): create it as part of this change
                    before = new_state(name, now, actor)
                    entries.append(created_entry(before, now, actor))
                    written_before = before
                else:
                    written_before = None
                after = edit(before)
                if after == before and written_before is None:
                    continue  # nothing to change, nothing to log
                version = 1 if current[name] is None else current[name].version + 1
                written.append(after.evolve(version=version, updated_at=now, updated_by=actor))
                if after != before:
                    entries.append(
                        AuditEntry(flag=name, action=action, actor=actor, at=now, old=value(before), new=value(after), reason=reason)
                    )
            return written, entries

        written = {state.name: state for state in self.store.update(names, change)}
        self._cache.invalidate()
        for name in names:
            self._emit(post, name, event_data)
        current = self.store.read(names) if len(written) < len(names) else {}
        return [written.get(name) or current.get(name) or FlagState(name) for name in names]

    def _emit(self, event: EventType, name: str, data: dict | None) -> None:
        if data is None:
            self.events.emit(event, name)
        else:
            self.events.emit(event, name, dict(data))


def open_service(url: str, store_timeout: float | None = None, **options: Any) -> FlagService:
    """A `FlagService` on the store the URL names (options go to `FlagService`); every
    store call has a deadline of `store_timeout` seconds (each store's default if None)."""
    store_options = {} if store_timeout is None else {"timeout": store_timeout}
    return FlagService(open_store(url, **store_options), **options)

