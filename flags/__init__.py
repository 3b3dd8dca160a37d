"""Feature flags for the migration harness, on `flipper-client` (no Flask, no `app` imports).

Public API (everything else is internal)::

    service = open_service(settings.flag_store_url)       # memory:// | sqlite:///… | postgresql+psycopg://… | redis://…?prefix=…
    service = open_service(url, refresh=Refresh.BACKGROUND)  # rereads in a thread of its own: requests never wait on the store
    check_store_url(url)                                   # raises InvalidStoreUrl for a malformed URL, connects to nothing
    service.ensure_flags()                                 # create missing flags (0%), never reset existing ones

    # Requests (the router, the shadow runner): never raise.
    service.decide(flag, user_id) -> Decision              # Decision(flag, enabled, reason, source); .path -> "original"|"refactored"
    service.is_enabled(flag, user_id) -> bool
    service.add_fallback_hook(hook)                        # hook(flag, source) for every decision not made from fresh state
    service.snapshot() -> FlagsSnapshot                    # .flags: FlagStatus(name, percent, enabled, killed, ...) for gauges
    service.ping()                                         # readiness: raises StoreUnavailable when the store is unreachable
    FlagService(store, loss_guard=LossGuard(FileKnownState(path)))  # a store that lost its state is noticed (flags.loss)
    service.store_loss() / service.restore(actor=, reason=)  # what it lost; write the last known state back
    service.health() / service.cache.add_health_listener(fn)  # store, last_known or safe_default, as decisions see it

    # Other services, through OpenFeature (openfeature-sdk): flags.openfeature.FlagsProvider.from_url(url)

    # Operators (CLI, admin API): fail loud with a FlagError; every change is audited.
    service.list_flags() / service.get(flag) -> FlagState
    service.set_percent(flag, percent, actor=, reason=)
    service.allow / deny / unallow / undeny(flag, users, actor=, reason=)
    service.kill(flag, actor=, reason=) / service.resume(flag, actor=, reason=)
    service.rollback(actor=, reason=)                      # kill every refactored_* flag atomically
    service.history(flag=, actor=, action=, since=, limit=) -> [AuditEntry] (newest first)

Rules, in order: kill switch -> deny list -> allow list -> sticky percentage -> off
(`Reason`: kill_switch, deny_list, allow_list, percentage, off, store_fallback).
Propagation: each process decides from a snapshot at most `ttl` (1 s) old (reread by the
request that finds it expired, or by a background thread: `flags.cache.Refresh`); with the
store unreachable it uses the last known state up to `max_stale` (30 s), then the safe
default (off: original path, no shadow). See docs/flags.md.
"""

from __future__ import annotations

from flags.audit import ACTIONS, AuditEntry
from flags.backends import check_store_url, open_store
from flags.cache import Refresh
from flags.clock import Clock, SystemClock
from flags.decision import Decision, Reason, Source
from flags.errors import (
    ConcurrentUpdate,
    FlagError,
    InvalidPercent,
    InvalidReason,
    InvalidStoreUrl,
    InvalidUserId,
    InvalidValue,
    StoreUnavailable,
    UnknownFlag,
)
from flags.events import EventType, SafeEventEmitter
from flags.loss import FileKnownState, LossGuard, MemoryKnownState, find_loss
from flags.names import (
    ALL_FLAGS,
    REFACTORED_FLAGS,
    REFACTORED_STAGED_UPLOAD,
    REFACTORED_UPLOAD,
    SHADOW_FLAGS,
    SHADOW_STAGED_UPLOAD,
    SHADOW_UPLOAD,
)
from flags.rollout import normalise_user_id, parse_percent
from flags.service import FallbackHook, FlagService, FlagsSnapshot, FlagStatus, open_service
from flags.state import FlagState
from flags.store import FlagStore, MemoryFlagStore

__all__ = [
    "ACTIONS",
    "ALL_FLAGS",
    "AuditEntry",
    "Clock",
    "ConcurrentUpdate",
    "Decision",
    "EventType",
    "FallbackHook",
    "FileKnownState",
    "FlagError",
    "FlagService",
    "FlagState",
    "FlagStatus",
    "FlagStore",
    "FlagsSnapshot",
    "InvalidPercent",
    "InvalidReason",
    "InvalidStoreUrl",
    "InvalidUserId",
    "InvalidValue",
    "LossGuard",
    "MemoryKnownState",
    "MemoryFlagStore",
    "REFACTORED_FLAGS",
    "REFACTORED_STAGED_UPLOAD",
    "REFACTORED_UPLOAD",
    "Reason",
    "Refresh",
    "SHADOW_FLAGS",
    "SHADOW_STAGED_UPLOAD",
    "SHADOW_UPLOAD",
    "SafeEventEmitter",
    "Source",
    "StoreUnavailable",
    "SystemClock",
    "UnknownFlag",
    "check_store_url",
    "find_loss",
    "normalise_user_id",
    "open_service",
    "open_store",
    "parse_percent",
]
