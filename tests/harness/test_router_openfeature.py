"""The router decides through OpenFeature, and the decision metric is a hook on its client:
it keeps counting, with the same labels, whichever provider answers."""

from __future__ import annotations

import pytest
from openfeature import api
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import FlagResolutionDetails
from openfeature.flag_evaluation import Reason as OFReason
from openfeature.provider import AbstractProvider, Metadata
from openfeature.provider.in_memory_provider import InMemoryFlag, InMemoryProvider

from app import create_app
from app.compose import services_of
from app.harness.router import path_and_reason
from flags.openfeature import FlagsProvider
from tests.conftest import make_settings
from tests.harness.test_router import _metric, _upload


@pytest.fixture
def routed(tmp_path, sqlite_url):
    app = create_app(settings=make_settings(tmp_path, sqlite_url, trust_user_header=True))
    services = services_of(app)
    yield app, services.flags, services.router
    services.close()


class Failing(AbstractProvider):
    """A provider whose every answer is an error (a backend that is down)."""

    def get_metadata(self):
        return Metadata(name="failing")

    def resolve_boolean_details(self, flag_key, default_value, evaluation_context=None):
        return FlagResolutionDetails(default_value, error_code=ErrorCode.GENERAL, reason=OFReason.ERROR)

    resolve_string_details = resolve_integer_details = resolve_float_details = resolve_object_details = resolve_boolean_details


def test_the_router_asks_the_harness_provider_on_a_domain_of_its_own(routed):
    app, flags, router = routed
    client = api.get_client(router.domain)
    assert isinstance(client.provider, FlagsProvider) and client.provider.service is flags
    flags.allow("refactored_upload", ["qa-1"], actor="test")
    assert (router.choose("direct", "qa-1").path, router.choose("direct", "qa-1").reason) == ("refactored", "allow_list")
    other = services_of(create_app(settings=services_of(app).settings.with_overrides({"flag_store_url": "memory://"})))
    assert other.router.domain != router.domain  # two apps in one process keep their own stores
    assert other.router.choose("direct", "qa-1").path == "original"
    other.close()


def test_swapping_the_provider_keeps_the_decision_metric(routed):
    app, _, router = routed
    client = app.test_client()
    api.set_provider_and_wait(InMemoryProvider({
        "refactored_upload": InMemoryFlag("on", {"on": True, "off": False}),
        "refactored_staged_upload": InMemoryFlag("off", {"on": True, "off": False}),
    }), router.domain)
    assert _upload(client, "dana").headers["X-Ingest-Path"] == "refactored"
    assert _upload(client, "dana", url="/upload_staged").headers["X-Ingest-Path"] == "original"
    assert _metric(client, "portal_route_decisions_total", flag="refactored_upload", path="refactored", reason="percentage") == 1
    assert _metric(client, "portal_route_decisions_total", flag="refactored_staged_upload", path="original", reason="off") == 1

    api.set_provider_and_wait(Failing(), router.domain)
    response = _upload(client, "dana")
    assert response.status_code == 200 and response.headers["X-Ingest-Path"] == "original"
    assert _metric(client, "portal_route_decisions_total", flag="refactored_upload", path="original", reason="store_fallback") == 1


def test_every_harness_reason_is_counted_under_its_own_label(routed):
    app, flags, _ = routed
    client = app.test_client()
    flags.allow("refactored_upload", ["amy"], actor="test")
    flags.deny("refactored_upload", ["bob"], actor="test")
    flags.set_percent("refactored_staged_upload", 100, actor="test")
    for user, url in (("amy", "/upload"), ("bob", "/upload"), ("cy", "/upload"), ("cy", "/upload_staged")):
        _upload(client, user, url=url)
    flags.kill("refactored_upload", actor="test", reason="drill")
    _upload(client, "amy")
    for flag, path, reason in (("refactored_upload", "refactored", "allow_list"), ("refactored_upload", "original", "deny_list"),
                               ("refactored_upload", "original", "off"), ("refactored_staged_upload", "refactored", "percentage"),
                               ("refactored_upload", "original", "kill_switch")):
        assert _metric(client, "portal_route_decisions_total", flag=flag, path=path, reason=reason) == 1, (flag, path, reason)


@pytest.mark.parametrize("value, reason, metadata, expected", [
    (True, OFReason.SPLIT, {"reason": "percentage"}, ("refactored", "percentage")),
    (False, OFReason.DISABLED, {"reason": "kill_switch"}, ("original", "kill_switch")),
    (True, OFReason.TARGETING_MATCH, {}, ("refactored", "allow_list")),
    (False, OFReason.TARGETING_MATCH, {}, ("original", "deny_list")),
    (False, OFReason.DISABLED, {}, ("original", "kill_switch")),
    (True, OFReason.STATIC, {}, ("refactored", "percentage")),
    (False, OFReason.DEFAULT, {}, ("original", "off")),
    (True, OFReason.ERROR, {}, ("original", "store_fallback")),
    (False, OFReason.ERROR, {"reason": "store_fallback"}, ("original", "store_fallback")),
    ("yes", OFReason.STATIC, {"reason": "allow_list"}, ("original", "off")),  # not a clear True: original
    (True, OFReason.SPLIT, {"reason": "deny_list"}, ("refactored", "percentage")),  # never an impossible label pair
])
def test_any_providers_answer_maps_onto_the_dashboards_labels(value, reason, metadata, expected):
    assert path_and_reason(value, reason, metadata) == expected
