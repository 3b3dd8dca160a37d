"""The router: which path serves a routed upload, per user, from the feature flags.

`/upload` follows `refactored_upload`, `/upload_staged` follows `refactored_staged_upload`.
The flag service never raises; should anything else fail here, the upload still goes
through, on the original path. Every decision is counted by reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from app.harness.metrics import Metrics
from app.harness.names import ROUTE_FLAGS, STORE_FALLBACK
from app.ingest.outcome import ORIGINAL

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PathChoice:
    """The path chosen for one routed upload and why."""

    flag: str
    path: str
    reason: str


class Router:
    """Chooses original or refactored per user from the flag service."""

    def __init__(self, flags, metrics: Metrics) -> None:
        self._flags = flags
        self._metrics = metrics

    def choose(self, route: str, user: str) -> PathChoice:
        """The path for `user` on `route` (direct or staged); never raises."""
        flag = ROUTE_FLAGS[route]
        try:
            decision = self._flags.decide(flag, user)
            chosen = PathChoice(flag, decision.path, decision.reason)
        except Exception:  # the flag service promises not to raise; the upload matters more
            log.exception("routing %s failed; serving the original path", flag)
            chosen = PathChoice(flag, ORIGINAL, STORE_FALLBACK)
        self._metrics.count_decision(chosen.flag, chosen.path, chosen.reason)
        return chosen
