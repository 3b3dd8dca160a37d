"""The harness's flags through OpenFeature: `FlagsProvider`, an `openfeature-sdk` provider.

Any Python service can read this harness's flags without importing its internals::

    from openfeature import api
    from openfeature.evaluation_context import EvaluationContext
    from flags.openfeature import FlagsProvider

    api.set_provider_and_wait(FlagsProvider.from_url("redis://host:6379/0?prefix=harness:flags"))
    client = api.get_client()
    details = client.get_boolean_details("refactored_upload", False, EvaluationContext(targeting_key="user-17"))
    details.value, details.variant, details.reason      # True, "refactored", "SPLIT"

Every answer is `FlagService.decide` for the context's `targeting_key` (kill switch ->
deny -> allow -> sticky percent -> off), with the reason mapped to OpenFeature's:

| harness reason | OpenFeature reason | value |
| --- | --- | --- |
| `kill_switch` | `DISABLED` | False |
| `deny_list`, `allow_list` | `TARGETING_MATCH` | False / True |
| `percentage` | `SPLIT` | True |
| `off` | `DEFAULT` | False |
| `store_fallback` (store unreadable, nothing recent known) | `ERROR`, code `GENERAL` | the caller's default |

Unknown flags answer `ERROR` / `FLAG_NOT_FOUND`, a context without a targeting key
`ERROR` / `TARGETING_KEY_MISSING`, integer, float and object lookups `TYPE_MISMATCH`
(string lookups of the `refactored_*` flags answer the path, "original" or "refactored").
Nothing raises to the caller. The variant is "refactored" / "original" for the
`refactored_*` flags and "on" / "off" for the shadow flags; `flag_metadata` carries the
harness's own `reason` and `source` (`store`, `last_known`, `safe_default`), which the
portal's metric hook reads.

Provider events follow the store's health as the decisions see it: `PROVIDER_READY`
(fresh state), `PROVIDER_STALE` (store unreachable, deciding from the last known state,
at most `max_stale` old), `PROVIDER_ERROR` (nothing usable: safe defaults), and
`PROVIDER_CONFIGURATION_CHANGED` when a reread finds flags changed. `initialize` never
raises: with the store down at start the SDK reports READY first (that is its rule for an
`initialize` that returns), and `PROVIDER_ERROR` follows at the first evaluation or the
refresher's next tick, whichever is first.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from openfeature.evaluation_context import EvaluationContext
from openfeature.event import ProviderEvent, ProviderEventDetails
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import FlagResolutionDetails
from openfeature.flag_evaluation import Reason as OpenFeatureReason
from openfeature.provider import AbstractProvider, Metadata

from flags.cache import Refresh
from flags.decision import Decision, Reason, Source
from flags.names import ALL_FLAGS, REFACTORED_FLAGS
from flags.service import FlagService, open_service

__all__ = ["FlagsProvider", "OPENFEATURE_REASONS", "PROVIDER_NAME"]

log = logging.getLogger(__name__)

PROVIDER_NAME = "arb-ingest-harness-flags"
OPENFEATURE_REASONS: Mapping[str, str] = {
    Reason.KILL_SWITCH: OpenFeatureReason.DISABLED,
    Reason.DENY_LIST: OpenFeatureReason.TARGETING_MATCH,
    Reason.ALLOW_LIST: OpenFeatureReason.TARGETING_MATCH,
    Reason.PERCENTAGE: OpenFeatureReason.SPLIT,
    Reason.OFF: OpenFeatureReason.DEFAULT,
    Reason.STORE_FALLBACK: OpenFeatureReason.ERROR,
}
_PATH_VARIANTS = {True: "refactored", False: "original"}
_SWITCH_VARIANTS = {True: "on", False: "off"}
_EVENTS = {
    Source.STORE: ProviderEvent.PROVIDER_READY,
    Source.LAST_KNOWN: ProviderEvent.PROVIDER_STALE,
    Source.SAFE_DEFAULT: ProviderEvent.PROVIDER_ERROR,
}


class FlagsProvider(AbstractProvider):
    """An OpenFeature provider answering from a `FlagService` (the same decisions as the router)."""

    def __init__(self, service: FlagService, *, owns_service: bool = False) -> None:
        super().__init__()
        self.service = service
        self._known = tuple(getattr(service, "flags", ALL_FLAGS))
        self._owns_service = owns_service
        self._reported: str | None = None  # the Source whose event the SDK last heard
        self._event_lock = threading.Lock()
        self._listening = False
        self._metadata = Metadata(name=PROVIDER_NAME)
        # Answers are a small fixed set: built once each (an evaluation is on every routed upload).
        self._answers: dict[tuple[str, bool, str, str, bool], FlagResolutionDetails] = {}

    @classmethod
    def from_url(cls, store_url: str, **options: Any) -> FlagsProvider:
        """A provider on its own flag service for the store URL the portal uses (refreshed in the background)."""
        options.setdefault("refresh", Refresh.BACKGROUND)
        return cls(open_service(store_url, **options), owns_service=True)

    @classmethod
    def from_service(cls, service: FlagService) -> FlagsProvider:
        """A provider on an existing flag service (which its owner keeps and closes)."""
        return cls(service)

    # -- lifecycle -------------------------------------------------------------------

    def get_metadata(self) -> Metadata:
        """The provider's name."""
        return self._metadata

    def initialize(self, evaluation_context: EvaluationContext) -> None:
        """Read the store once if nothing was read yet and follow its health; never raises."""
        try:
            cache = getattr(self.service, "cache", None)
            if cache is not None and not self._listening:
                cache.add_health_listener(self._on_health)
                cache.add_change_listener(self._on_change)
                self._listening = True
            if cache is not None and not cache.attempted:
                self.service.reload()
        except Exception:  # a provider that cannot watch its store still answers safely
            log.exception("flags provider: following the store's health failed")
        # The SDK dispatches PROVIDER_READY when this returns; a worse health is
        # reported after it (first evaluation or next refresher tick).
        self._reported = Source.STORE

    def shutdown(self) -> None:
        """Stop following the store; close the service if this provider opened it."""
        if self._listening:
            self.service.cache.remove_health_listener(self._on_health)
            self._listening = False
        if self._owns_service:
            self.service.close()

    def _on_health(self, source: str, error: BaseException | None) -> None:
        self._observe(source, error)

    def _on_change(self, names: tuple[str, ...]) -> None:
        if self._reported is not None:
            self.emit_provider_configuration_changed(ProviderEventDetails(flags_changed=list(names)))

    def _observe(self, source: str, error: BaseException | None = None) -> None:
        if source == self._reported or self._reported is None:
            return  # unchanged, or not initialised by an SDK yet
        with self._event_lock:
            if source == self._reported:
                return
            self._reported = source
            try:
                self.emit(_EVENTS[source], _event_details(source, error))
            except Exception:  # an event handler's failure must not change a decision
                log.exception("flags provider: an OpenFeature event handler raised (ignored)")

    # -- resolution ------------------------------------------------------------------

    def resolve_boolean_details(
        self, flag_key: str, default_value: bool, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[bool]:
        """The flag for the context's targeting key: on or off, with the reason and variant."""
        return self._resolve(flag_key, default_value, evaluation_context, as_path=False)

    def resolve_string_details(
        self, flag_key: str, default_value: str, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[str]:
        """A `refactored_*` flag as the path it picks: "original" or "refactored"."""
        if flag_key in self._known and flag_key not in REFACTORED_FLAGS:
            return _error(default_value, ErrorCode.TYPE_MISMATCH,
                          f"{flag_key} is an on/off flag; string lookups answer only the refactored_* flags")
        return self._resolve(flag_key, default_value, evaluation_context, as_path=True)

    def resolve_integer_details(
        self, flag_key: str, default_value: int, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[int]:
        """Not an integer flag: the default, TYPE_MISMATCH."""
        return _error(default_value, ErrorCode.TYPE_MISMATCH, f"{flag_key}: the harness's flags are boolean")

    def resolve_float_details(
        self, flag_key: str, default_value: float, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[float]:
        """Not a float flag: the default, TYPE_MISMATCH."""
        return _error(default_value, ErrorCode.TYPE_MISMATCH, f"{flag_key}: the harness's flags are boolean")

    def resolve_object_details(
        self,
        flag_key: str,
        default_value: Sequence[Any] | Mapping[str, Any],
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[Sequence[Any] | Mapping[str, Any]]:
        """Not an object flag: the default, TYPE_MISMATCH."""
        return _error(default_value, ErrorCode.TYPE_MISMATCH, f"{flag_key}: the harness's flags are boolean")

    def _resolve(self, flag_key: str, default_value: Any, context: EvaluationContext | None, as_path: bool):
        try:
            if flag_key not in self._known:
                return _error(default_value, ErrorCode.FLAG_NOT_FOUND,
                              f"unknown flag {flag_key!r}; known flags: {', '.join(self._known)}")
            user = context.targeting_key if context is not None else None
            if not isinstance(user, str) or not user.strip():
                return _error(default_value, ErrorCode.TARGETING_KEY_MISSING,
                              "the evaluation context needs a targeting_key (the user id)")
            decision: Decision = self.service.decide(flag_key, user)
            if decision.source != self._reported:
                self._observe(decision.source, getattr(getattr(self.service, "cache", None), "last_error", None))
            if decision.source == Source.SAFE_DEFAULT:
                return _error(default_value, ErrorCode.GENERAL,
                              "flag store unavailable and no state read recently: the safe default",
                              {"reason": decision.reason, "source": decision.source})
            key = (flag_key, decision.enabled, decision.reason, decision.source, as_path)
            answer = self._answers.get(key)
            if answer is None:
                variants = _PATH_VARIANTS if flag_key in REFACTORED_FLAGS else _SWITCH_VARIANTS
                variant = variants[decision.enabled]
                answer = self._answers[key] = FlagResolutionDetails(
                    value=variant if as_path else decision.enabled,
                    reason=OPENFEATURE_REASONS[decision.reason],
                    variant=variant,
                    flag_metadata=MappingProxyType({"reason": decision.reason, "source": decision.source}),
                )
            return answer
        except Exception as error:  # the caller gets its default, never an exception
            log.exception("flags provider: resolving %r failed", flag_key)
            return _error(default_value, ErrorCode.GENERAL, f"{type(error).__name__}: {error}")


def _error(default_value: Any, code: ErrorCode, message: str, metadata: Mapping[str, Any] | None = None):
    return FlagResolutionDetails(
        value=default_value, error_code=code, error_message=message, reason=OpenFeatureReason.ERROR,
        flag_metadata=dict(metadata or {}),
    )


def _event_details(source: str, error: BaseException | None) -> ProviderEventDetails:
    if source == Source.STORE:
        return ProviderEventDetails(message="flag store readable: deciding from fresh state")
    cause = f": {type(error).__name__}: {error}" if error is not None else ""
    if source == Source.LAST_KNOWN:
        return ProviderEventDetails(message=f"flag store unreachable, deciding from the last known state{cause}")
    return ProviderEventDetails(message=f"flag store unreachable and no recent state: safe defaults{cause}",
                                error_code=ErrorCode.GENERAL)
