"""The router: which path serves a routed upload, per user, from the feature flags.

`/upload` follows `refactored_upload`, `/upload_staged` follows `refactored_staged_upload`.
The router asks through OpenFeature: a `flags.openfeature.FlagsProvider` on the app's
flag service is set on a domain of the router's own, and the decision metric
(`portal_route_decisions_total`) is an OpenFeature hook on that domain's client, so it
keeps counting whichever provider answers. Nothing here fails an upload: a provider
error, or anything else going wrong, serves the original path (`store_fallback`).
"""

from __future__ import annotations

import logging
import threading
import uuid
import weakref
from collections.abc import Mapping
from dataclasses import dataclass

from openfeature import api
from openfeature.client import OpenFeatureClient
from openfeature.evaluation_context import EvaluationContext
from openfeature.flag_evaluation import FlagEvaluationDetails
from openfeature.flag_evaluation import Reason as OpenFeatureReason
from openfeature.hook import Hook, HookContext, HookHints
from openfeature.provider import FeatureProvider
from openfeature.provider.no_op_provider import NoOpProvider

from app.harness.metrics import Metrics
from app.harness.names import DECISIONS, ROUTE_FLAGS, STORE_FALLBACK
from app.ingest.outcome import ORIGINAL, REFACTORED
from flags.openfeature import FlagsProvider

log = logging.getLogger(__name__)
# What another provider's OpenFeature reason means in this harness's reason labels.
_FROM_OPENFEATURE = {
    (True, OpenFeatureReason.TARGETING_MATCH): "allow_list",
    (False, OpenFeatureReason.TARGETING_MATCH): "deny_list",
    (False, OpenFeatureReason.DISABLED): "kill_switch",
    (False, OpenFeatureReason.ERROR): STORE_FALLBACK,
}
# A retired router's domain is handed an inert provider (the SDK has no "unset").
_RETIRED = NoOpProvider()
_retired_domains: list[str] = []
_retire_lock = threading.Lock()


@dataclass(frozen=True)
class PathChoice:
    """The path chosen for one routed upload and why."""

    flag: str
    path: str
    reason: str


def path_and_reason(value: object, reason: object, metadata: Mapping[str, object] | None) -> tuple[str, str]:
    """The path and the harness reason label of one OpenFeature answer (always a known label pair)."""
    path = REFACTORED if value is True else ORIGINAL  # anything but a clear yes stays on the original path
    own = (metadata or {}).get("reason")
    if own in DECISIONS[path]:
        return path, own  # type: ignore[return-value]
    if reason == OpenFeatureReason.ERROR:
        return ORIGINAL, STORE_FALLBACK
    return path, _FROM_OPENFEATURE.get((path == REFACTORED, reason), "percentage" if path == REFACTORED else "off")


class DecisionMetricsHook(Hook):
    """Counts every routing decision in `portal_route_decisions_total{flag, path, reason}`."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self._flags = frozenset(ROUTE_FLAGS.values())
        # The labelled counters, looked up once each (a decision is on every routed upload).
        self._counters: dict[tuple[str, str, str], object] = {}

    def _count(self, flag: str, path: str, reason: str) -> None:
        counter = self._counters.get((flag, path, reason))
        if counter is None:
            counter = self._counters[(flag, path, reason)] = self._metrics.decisions.labels(flag, path, reason)
        counter.inc()  # type: ignore[attr-defined]

    def after(self, hook_context: HookContext, details: FlagEvaluationDetails, hints: HookHints) -> None:
        """Count an answered decision by its path and reason."""
        if hook_context.flag_key not in self._flags:
            return
        try:
            self._count(hook_context.flag_key, *path_and_reason(details.value, details.reason, details.flag_metadata))
        except Exception:  # raising here would make the SDK run `error` too: counted twice
            log.exception("counting the decision for %s failed", hook_context.flag_key)

    def error(self, hook_context: HookContext, exception: Exception, hints: HookHints) -> None:
        """Count a failed decision: the caller gets the original path."""
        if hook_context.flag_key in self._flags:
            self._count(hook_context.flag_key, ORIGINAL, STORE_FALLBACK)


def routing_client(provider: FeatureProvider, metrics: Metrics, domain: str) -> OpenFeatureClient:
    """Set `provider` on `domain` (waiting for its initialize) and return the client with the metric hook."""
    _drain_retired()
    api.set_provider_and_wait(provider, domain)
    client = api.get_client(domain)
    client.add_hooks([DecisionMetricsHook(metrics)])
    return client


class Router:
    """Chooses original or refactored per user, through OpenFeature, from the flag service."""

    def __init__(self, flags, metrics: Metrics, domain: str | None = None) -> None:
        self._metrics = metrics
        self.domain = domain or f"arb-portal-router-{uuid.uuid4().hex[:12]}"
        self.provider = FlagsProvider.from_service(flags)
        self.client = routing_client(self.provider, metrics, self.domain)
        # Routers die with their app (tests build hundreds); the SDK's registry must not
        # keep their flag services (and refresher threads) alive.
        self._finalizer = weakref.finalize(self, _retire, self.domain)

    def choose(self, route: str, user: str) -> PathChoice:
        """The path for `user` on `route` (direct or staged); never raises."""
        flag = ROUTE_FLAGS[route]
        try:
            details = self.client.get_boolean_details(flag, False, EvaluationContext(targeting_key=user))
            return PathChoice(flag, *path_and_reason(details.value, details.reason, details.flag_metadata))
        except Exception:  # the SDK promises not to raise; the upload matters more
            log.exception("routing %s failed; serving the original path", flag)
            self._metrics.count_decision(flag, ORIGINAL, STORE_FALLBACK)
            return PathChoice(flag, ORIGINAL, STORE_FALLBACK)

    def close(self) -> None:
        """Take this router's provider off its OpenFeature domain."""
        self._finalizer()
        _drain_retired()


def _retire(domain: str) -> None:
    # Runs from a finalizer, maybe inside the garbage collector: only note the domain.
    _retired_domains.append(domain)


def _drain_retired() -> None:
    with _retire_lock:
        domains = _retired_domains[:]
        del _retired_domains[: len(domains)]
    for domain in domains:
        try:
            api.set_provider(_RETIRED, domain)
        except Exception:
            log.exception("retiring the OpenFeature domain %s failed", domain)
