"""What a flag lookup answers: a frozen `Decision` with the reason the router counts."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Decision", "Reason", "Source"]


class Reason:
    """Why a decision came out as it did (the `reason` label of route-decision metrics)."""

    KILL_SWITCH = "kill_switch"
    DENY_LIST = "deny_list"
    ALLOW_LIST = "allow_list"
    PERCENTAGE = "percentage"
    OFF = "off"
    STORE_FALLBACK = "store_fallback"

    ALL = (KILL_SWITCH, DENY_LIST, ALLOW_LIST, PERCENTAGE, OFF, STORE_FALLBACK)


class Source:
    """Where the flag state behind a decision came from."""

    STORE = "store"  # a snapshot younger than the cache TTL (or refreshed just now)
    LAST_KNOWN = "last_known"  # the store failed; a snapshot younger than max_stale
    SAFE_DEFAULT = "safe_default"  # the store failed and nothing recent is known

    ALL = (STORE, LAST_KNOWN, SAFE_DEFAULT)


@dataclass(frozen=True, slots=True)
class Decision:
    """One flag evaluated for one user: on or off, why, and from what state."""

    flag: str
    enabled: bool
    reason: str
    source: str = Source.STORE

    @property
    def path(self) -> str:
        """`refactored` when enabled else `original` (the ingestion path a refactored_* flag picks)."""
        return "refactored" if self.enabled else "original"
