"""The flags through OpenFeature: the provider answers what the flag service decides, on every store,
maps the reasons, never raises, and reports the store's health as provider events."""

from __future__ import annotations

import time
import uuid

import pytest
from openfeature import api
from openfeature.evaluation_context import EvaluationContext
from openfeature.event import ProviderEvent
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason as OFReason
from openfeature.provider import ProviderStatus
from openfeature.provider.no_op_provider import NoOpProvider
from sqlalchemy import create_engine, text

from flags import (
    REFACTORED_STAGED_UPLOAD,
    REFACTORED_UPLOAD,
    SHADOW_UPLOAD,
    FlagService,
    Reason,
    Refresh,
    Source,
    open_store,
)
from flags.openfeature import OPENFEATURE_REASONS, FlagsProvider

USERS = [f"user-{n}" for n in range(10_000)]
PERCENTS = (0, 1, 12.5, 25, 50, 99, 100)
_INERT = NoOpProvider()


@pytest.fixture
def domain():
    """An OpenFeature domain of this test's own, emptied afterwards."""
    name = f"test-{uuid.uuid4().hex}"
    yield name
    api.set_provider(_INERT, name)


def connect(provider: FlagsProvider, domain: str):
    """Set the provider on the domain (as a service would) and return the domain's client."""
    api.set_provider_and_wait(provider, domain)
    return api.get_client(domain)


def eventually(condition, timeout: float = 10.0) -> bool:
    """True once `condition()` holds (the SDK runs event handlers on a thread pool of its own)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def ctx(user: str) -> EvaluationContext:
    return EvaluationContext(targeting_key=user)


def assert_agrees(provider: FlagsProvider, service: FlagService, flag: str, users=USERS) -> int:
    """Every user's answer is the service's decision, reason mapped; returns how many are on."""
    on = 0
    for user in users:
        decision = service.decide(flag, user)
        details = provider.resolve_boolean_details(flag, False, ctx(user))
        assert (details.value, details.reason, details.variant) == (
            decision.enabled, OPENFEATURE_REASONS[decision.reason], decision.path), user
        assert details.flag_metadata == {"reason": decision.reason, "source": decision.source}
        assert details.error_code is None
        on += details.value
    return on


def test_the_provider_agrees_with_the_flag_service_for_10000_users_at_every_percent_with_lists_and_kill(service, capsys):
    service.allow(REFACTORED_UPLOAD, USERS[:40], actor="ops")
    service.deny(REFACTORED_UPLOAD, USERS[20:60], actor="ops")  # 20 both allowed and denied: deny wins
    provider = FlagsProvider.from_service(service)
    counts = {}
    for percent in PERCENTS:
        service.set_percent(REFACTORED_UPLOAD, percent, actor="ops")
        counts[percent] = assert_agrees(provider, service, REFACTORED_UPLOAD)
    service.kill(REFACTORED_UPLOAD, actor="ops", reason="drill")
    counts["killed"] = assert_agrees(provider, service, REFACTORED_UPLOAD)
    service.resume(REFACTORED_UPLOAD, actor="ops")
    counts["resumed at 100"] = assert_agrees(provider, service, REFACTORED_UPLOAD)
    with capsys.disabled():
        print(f"\n  [{service.store.description}] users on per setting (10,000 users, 20 allowed, 40 denied): {counts}")
    assert counts[0] == 20 and counts["killed"] == 0
    assert counts[100] == counts["resumed at 100"] == 10_000 - 40
    assert all(abs(counts[p] - 20 - p * 100) <= 170 for p in PERCENTS if 0 < p < 100)


def test_through_the_openfeature_client_every_user_gets_the_routers_answer(service, domain):
    service.set_percent(REFACTORED_STAGED_UPLOAD, 30, actor="ops")
    service.allow(REFACTORED_STAGED_UPLOAD, ["qa-1"], actor="ops")
    client = connect(FlagsProvider.from_service(service), domain)
    mismatches = 0
    for user in USERS + ["qa-1"]:
        details = client.get_boolean_details(REFACTORED_STAGED_UPLOAD, False, ctx(user))
        decision = service.decide(REFACTORED_STAGED_UPLOAD, user)
        mismatches += (details.value, details.variant) != (decision.enabled, decision.path)
        mismatches += client.get_string_value(REFACTORED_STAGED_UPLOAD, "original", ctx(user)) != decision.path
    assert mismatches == 0


def test_each_rule_has_its_openfeature_reason_and_variant(service, domain):
    client = connect(FlagsProvider.from_service(service), domain)
    service.allow(REFACTORED_UPLOAD, ["amy"], actor="ops")
    service.deny(REFACTORED_UPLOAD, ["bob"], actor="ops")
    service.set_percent(SHADOW_UPLOAD, 100, actor="ops")

    def answer(flag, user):
        details = client.get_boolean_details(flag, False, ctx(user))
        return details.value, details.variant, details.reason

    assert answer(REFACTORED_UPLOAD, "amy") == (True, "refactored", OFReason.TARGETING_MATCH)
    assert answer(REFACTORED_UPLOAD, "bob") == (False, "original", OFReason.TARGETING_MATCH)
    assert answer(REFACTORED_UPLOAD, "cy") == (False, "original", OFReason.DEFAULT)
    assert answer(SHADOW_UPLOAD, "cy") == (True, "on", OFReason.SPLIT)
    service.kill(REFACTORED_UPLOAD, actor="ops", reason="drill")
    assert answer(REFACTORED_UPLOAD, "amy") == (False, "original", OFReason.DISABLED)
    assert client.get_string_details(REFACTORED_UPLOAD, "original", ctx("amy")).value == "original"


@pytest.mark.parametrize("context", [None, EvaluationContext(), ctx(""), ctx("   ")])
def test_a_lookup_without_a_targeting_key_answers_the_default_with_an_error(service, domain, context):
    service.set_percent(REFACTORED_UPLOAD, 100, actor="ops")
    client = connect(FlagsProvider.from_service(service), domain)
    details = client.get_boolean_details(REFACTORED_UPLOAD, False, context)
    assert (details.value, details.reason, details.error_code) == (False, OFReason.ERROR, ErrorCode.TARGETING_KEY_MISSING)


def test_unknown_flags_and_other_types_answer_the_default_with_the_error_code(service, domain):
    client = connect(FlagsProvider.from_service(service), domain)
    unknown = client.get_boolean_details("refactored_uplod", True, ctx("u"))
    assert (unknown.value, unknown.error_code) == (True, ErrorCode.FLAG_NOT_FOUND)
    assert "refactored_upload" in unknown.error_message
    assert client.get_string_details(SHADOW_UPLOAD, "off", ctx("u")).error_code == ErrorCode.TYPE_MISMATCH
    assert client.get_integer_details(REFACTORED_UPLOAD, 7, ctx("u")).value == 7
    assert client.get_float_details(REFACTORED_UPLOAD, 0.5, ctx("u")).error_code == ErrorCode.TYPE_MISMATCH
    assert client.get_object_details(REFACTORED_UPLOAD, {"a": 1}, ctx("u")).value == {"a": 1}


def test_a_store_outage_answers_last_known_then_the_default_with_reason_error_never_an_exception(tmp_path, clock, domain):
    url = f"sqlite:///{tmp_path / 'flags.db'}"
    service = FlagService(open_store(url), clock=clock, refresh=Refresh.MANUAL)
    service.ensure_flags()
    service.set_percent(REFACTORED_UPLOAD, 100, actor="ops")
    client = connect(FlagsProvider.from_service(service), domain)
    events = []
    for event in ProviderEvent:
        client.add_handler(event, lambda details, event=event: events.append((event, details.error_code)))
    assert eventually(lambda: events == [(ProviderEvent.PROVIDER_READY, None)])  # adding a handler replays the status
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE flag_features RENAME TO flag_features_away"))

    clock.advance(1)
    service.tick()  # the refresher's read fails: last known state
    stale = client.get_boolean_details(REFACTORED_UPLOAD, False, ctx("u"))
    assert (stale.value, stale.reason, stale.flag_metadata["source"]) == (True, OFReason.SPLIT, Source.LAST_KNOWN)
    assert eventually(lambda: events[1:] == [(ProviderEvent.PROVIDER_STALE, None)]), events
    assert client.get_provider_status() == ProviderStatus.STALE

    clock.advance(30)  # past max_stale: the safe default
    for default in (False, True):
        details = client.get_boolean_details(REFACTORED_UPLOAD, default, ctx("u"))
        assert (details.value, details.reason, details.error_code) == (default, OFReason.ERROR, ErrorCode.GENERAL)
        assert details.flag_metadata == {"reason": Reason.STORE_FALLBACK, "source": Source.SAFE_DEFAULT}
    assert eventually(lambda: events[-1] == (ProviderEvent.PROVIDER_ERROR, ErrorCode.GENERAL)), events
    assert client.get_provider_status() == ProviderStatus.ERROR  # not FATAL: evaluations go on

    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE flag_features_away RENAME TO flag_features"))
    service.tick()
    assert client.get_boolean_details(REFACTORED_UPLOAD, False, ctx("u")).value is True
    assert eventually(lambda: events[-1] == (ProviderEvent.PROVIDER_READY, None)), events
    assert [event for event, _ in events] == [ProviderEvent.PROVIDER_READY, ProviderEvent.PROVIDER_STALE,
                                              ProviderEvent.PROVIDER_ERROR, ProviderEvent.PROVIDER_READY]
    assert client.get_provider_status() == ProviderStatus.READY
    engine.dispose()
    service.close()


def test_a_change_made_elsewhere_is_announced_as_configuration_changed(tmp_path, clock, domain):
    url = f"sqlite:///{tmp_path / 'flags.db'}"
    operator = FlagService(open_store(url), clock=clock)
    operator.ensure_flags()
    service = FlagService(open_store(url), clock=clock, refresh=Refresh.MANUAL)
    service.reload()
    client = connect(FlagsProvider.from_service(service), domain)
    changed = []
    client.add_handler(ProviderEvent.PROVIDER_CONFIGURATION_CHANGED, lambda details: changed.append(details.flags_changed))
    operator.set_percent(REFACTORED_STAGED_UPLOAD, 100, actor="ops")
    assert client.get_boolean_value(REFACTORED_STAGED_UPLOAD, False, ctx("u")) is False  # not reread yet
    clock.advance(1)
    service.tick()
    assert eventually(lambda: changed == [[REFACTORED_STAGED_UPLOAD]]), changed
    assert client.get_boolean_value(REFACTORED_STAGED_UPLOAD, False, ctx("u")) is True
    operator.close()
    service.close()


def test_a_provider_whose_store_is_down_at_start_initialises_and_then_reports_the_error(domain, clock):
    service = FlagService(open_store("redis://127.0.0.1:1/0?socket_timeout=0.2"), clock=clock, refresh=Refresh.MANUAL)
    provider = FlagsProvider.from_service(service)
    client = connect(provider, domain)  # set_provider_and_wait does not raise
    assert service.cache.attempted
    details = client.get_boolean_details(REFACTORED_UPLOAD, False, ctx("u"))
    assert (details.value, details.reason, details.error_code) == (False, OFReason.ERROR, ErrorCode.GENERAL)
    assert client.get_provider_status() == ProviderStatus.ERROR
    service.close()


def test_an_event_handler_that_raises_changes_no_answer(tmp_path, clock, domain):
    url = f"sqlite:///{tmp_path / 'flags.db'}"
    service = FlagService(open_store(url), clock=clock, refresh=Refresh.MANUAL)
    service.ensure_flags()
    client = connect(FlagsProvider.from_service(service), domain)
    raised = []

    def broken(details):
        raised.append(details.provider_name)
        raise RuntimeError("handler bug")

    client.add_handler(ProviderEvent.PROVIDER_STALE, broken)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE flag_features RENAME TO flag_features_away"))
    clock.advance(1)
    service.tick()
    details = client.get_boolean_details(REFACTORED_UPLOAD, False, ctx("u"))
    assert (details.value, details.reason, details.error_code) == (False, OFReason.DEFAULT, None)
    assert details.flag_metadata["source"] == Source.LAST_KNOWN
    assert eventually(lambda: raised == ["arb-ingest-harness-flags"])
    engine.dispose()
    service.close()


def test_a_provider_from_a_url_reads_in_the_background_and_shutdown_stops_it(tmp_path, domain):
    url = f"sqlite:///{tmp_path / 'flags.db'}"
    operator = FlagService(open_store(url))
    operator.ensure_flags()
    operator.allow(REFACTORED_UPLOAD, ["qa-1"], actor="ops")
    provider = FlagsProvider.from_url(url)
    assert provider.service.cache.refresh == Refresh.BACKGROUND
    client = connect(provider, domain)
    assert client.get_boolean_details(REFACTORED_UPLOAD, False, ctx("qa-1")).variant == "refactored"
    refresher = provider.service.cache.refresher
    assert refresher.running
    api.set_provider_and_wait(_INERT, domain)  # the SDK shuts the old provider down
    refresher._thread.join(5)
    assert not refresher.running and refresher.stopped
    operator.close()
