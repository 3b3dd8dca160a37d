"""The router: per-user path choice from the flags, sticky, counted, never failing an upload."""

from __future__ import annotations

import pytest

from app import create_app
from app.compose import services_of
from app.workbook.generator import generate_workbook
from tests.conftest import JSON, make_settings, post_file


@pytest.fixture
def routed(tmp_path, sqlite_url):
    app = create_app(settings=make_settings(tmp_path, sqlite_url, trust_user_header=True))
    yield app, services_of(app).flags
    services_of(app).db.dispose()


def _upload(client, user, url="/upload", seed=1):
    return post_file(client, url, generate_workbook("energy_v01_00", seed=seed).data, headers={"X-Portal-User": user})


def _metric(client, name: str, **labels) -> float:
    text = client.get("/metrics").get_data(as_text=True)
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no series {name}{{{want}}}")


def test_at_zero_percent_everyone_gets_the_original_path(routed):
    app, _ = routed
    client = app.test_client()
    response = _upload(client, "dana")
    assert response.status_code == 200 and response.headers["X-Ingest-Path"] == "original"
    assert response.get_json()["path"] == "original"
    assert _metric(client, "portal_route_decisions_total", flag="refactored_upload", path="original", reason="off") == 1


def test_the_allow_list_and_a_full_rollout_send_users_to_the_refactored_path(routed):
    app, flags = routed
    client = app.test_client()
    flags.allow("refactored_upload", ["qa-tester"], actor="test")
    assert _upload(client, "qa-tester").headers["X-Ingest-Path"] == "refactored"
    assert _upload(client, "someone-else").headers["X-Ingest-Path"] == "original"
    flags.set_percent("refactored_staged_upload", 100, actor="test")
    staged = _upload(client, "someone-else", url="/upload_staged")
    assert staged.status_code == 201 and staged.headers["X-Ingest-Path"] == "refactored"
    assert _metric(client, "portal_route_decisions_total", flag="refactored_upload", path="refactored", reason="allow_list") == 1
    assert _metric(client, "portal_route_decisions_total", flag="refactored_staged_upload", path="refactored", reason="percentage") == 1


def test_a_users_path_is_sticky_and_the_kill_switch_takes_everyone_back(routed):
    app, flags = routed
    client = app.test_client()
    flags.set_percent("refactored_upload", 50, actor="test")
    users = [f"user-{n}" for n in range(40)]
    first = {u: _upload(client, u, seed=n).headers["X-Ingest-Path"] for n, u in enumerate(users)}
    assert set(first.values()) == {"original", "refactored"}
    again = {u: _upload(client, u, seed=n).headers["X-Ingest-Path"] for n, u in enumerate(users)}
    assert again == first
    flags.kill("refactored_upload", actor="test", reason="drill")
    assert {_upload(client, u).headers["X-Ingest-Path"] for u in users[:10]} == {"original"}
    assert _metric(client, "portal_route_decisions_total", flag="refactored_upload", path="original", reason="kill_switch") == 10
    assert _metric(client, "portal_rollbacks_total", flag="refactored_upload", trigger="manual") == 1


def test_an_anonymous_browser_stays_on_one_path(tmp_path, sqlite_url):
    app = create_app(settings=make_settings(tmp_path, sqlite_url))
    services_of(app).flags.set_percent("refactored_upload", 50, actor="test")
    paths = set()
    for browser in range(12):
        client = app.test_client()
        assert client.get("/upload").status_code == 200  # the first visit sets the signed cookie
        assert client.get_cookie("session") is not None
        seen = {_upload(client, "ignored-untrusted-header", seed=n).headers["X-Ingest-Path"] for n in range(3)}
        assert len(seen) == 1
        paths |= seen
    assert paths == {"original", "refactored"}
    services_of(app).db.dispose()


def test_pinned_routes_ignore_the_flags(routed):
    app, flags = routed
    client = app.test_client()
    flags.set_percent("refactored_upload", 100, actor="test")
    assert _upload(client, "u", url="/upload_original").headers["X-Ingest-Path"] == "original"
    flags.kill("refactored_upload", actor="test", reason="x")
    assert _upload(client, "u", url="/upload_refactored").headers["X-Ingest-Path"] == "refactored"


def test_a_file_staged_on_one_path_is_confirmed_from_a_page_routed_to_the_other(routed):
    app, flags = routed
    client = app.test_client()
    flags.set_percent("refactored_staged_upload", 100, actor="test")
    workbook = generate_workbook("landfill_v01_00", seed=5)
    staged = post_file(client, "/upload_staged", workbook.data, headers={"X-Portal-User": "a"}).get_json()
    assert staged["path"] == "refactored"
    flags.kill("refactored_staged_upload", actor="test", reason="back")
    confirm = client.post(f"/confirm_staged/{staged['id_incidence']}/{staged['staged_filename']}",
                          json={"confirm": ["facility_name"]}, headers=JSON)
    assert confirm.status_code == 200


def test_a_flag_store_outage_never_fails_an_upload(tmp_path, sqlite_url):
    down = "redis://127.0.0.1:1/0?socket_timeout=0.2&socket_connect_timeout=0.2"
    app = create_app(settings=make_settings(tmp_path, sqlite_url, flag_store_url=down, trust_user_header=True))
    client = app.test_client()
    response = _upload(client, "dana")
    assert response.status_code == 200 and response.headers["X-Ingest-Path"] == "original"
    assert _metric(client, "portal_route_decisions_total", flag="refactored_upload", path="original", reason="store_fallback") == 1
    assert _metric(client, "portal_flag_fallbacks_total", flag="refactored_upload", source="safe_default") >= 1
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.get_json()["flag_store"].startswith("unreachable")
    assert ready.get_json()["database"] == "ok"
    services_of(app).db.dispose()


def test_a_router_that_breaks_still_serves_the_original_path(routed):
    from app.harness.metrics import Metrics
    from app.harness.router import Router

    class Broken:
        def decide(self, flag, user):
            raise RuntimeError("boom")

    metrics = Metrics()
    route = Router(Broken(), metrics).choose("direct", "u")
    assert (route.path, route.reason) == ("original", "store_fallback")
