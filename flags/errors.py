"""Everything `flags/` raises to an operator-facing caller (CLI, admin API, start-up).

Decisions never raise (`FlagService.decide` and `is_enabled` return a safe answer); the
operator side fails loud with one of these, each carrying the context it is about::

    FlagError
    ├── UnknownFlag            a flag name that is not one of flags.names.ALL_FLAGS
    ├── InvalidValue           an operator-supplied value is malformed
    │   ├── InvalidPercent     rollout percent not a number in 0..100 (4 decimals at most)
    │   ├── InvalidUserId      a user id that cannot be normalised (None, bool, empty, > 255 chars)
    │   └── InvalidReason      a reason is required (kill, rollback) and was empty, or > 1,000 chars
    ├── InvalidStoreUrl        the flag store URL names no supported store
    └── StoreUnavailable       the store could not be read or written
        └── ConcurrentUpdate   optimistic update lost the race too many times
"""

from __future__ import annotations

__all__ = [
    "ConcurrentUpdate",
    "FlagError",
    "InvalidPercent",
    "InvalidReason",
    "InvalidStoreUrl",
    "InvalidUserId",
    "InvalidValue",
    "StoreUnavailable",
    "UnknownFlag",
]


class FlagError(Exception):
    """Base class of every error `flags/` raises."""


class UnknownFlag(FlagError, LookupError):
    """The flag name is not a known flag."""

    def __init__(self, flag: str, known: tuple[str, ...] = ()) -> None:
        self.flag = flag
        self.known = known
        hint = f"; known flags: {', '.join(known)}" if known else ""
        super().__init__(f"unknown flag {flag!r}{hint}")


class InvalidValue(FlagError, ValueError):
    """An operator-supplied value is malformed; `field` names which one."""

    field = "value"

    def __init__(self, value: object, message: str) -> None:
        self.value = value
        super().__init__(message)


class InvalidPercent(InvalidValue):
    """A rollout percent outside 0..100, not a number, or with more than 4 decimals."""

    field = "percent"


class InvalidUserId(InvalidValue):
    """A user id that cannot be normalised to a non-empty string."""

    field = "user"


class InvalidReason(InvalidValue):
    """A required reason (kill switch, rollback) is missing, or a reason is too long."""

    field = "reason"


class InvalidStoreUrl(FlagError, ValueError):
    """The flag store URL has an unsupported scheme or bad parameters."""

    def __init__(self, url: str, message: str) -> None:
        self.url = url
        super().__init__(message)


class StoreUnavailable(FlagError):
    """The store could not be read or written; `store` says which, `__cause__` why."""

    def __init__(self, store: str, operation: str, cause: BaseException | None = None) -> None:
        self.store = store
        self.operation = operation
        detail = f": {type(cause).__name__}: {cause}" if cause is not None else ""
        super().__init__(f"flag store {store} unavailable during {operation}{detail}")


class ConcurrentUpdate(StoreUnavailable):
    """Another writer kept changing the same flags; the update was not applied."""
