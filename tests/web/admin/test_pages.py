"""The admin pages under /admin, through the real app: sign-in, flags, changes, rollback, shadow (rollout and reports: test_rollout_reports_pages.py)."""

from __future__ import annotations

import re

import pytest

from app.compose import services_of
from app.config import AdminToken
from app.web.admin.session import COOKIE
from tests.conftest import make_settings
from tests.csrf import raw_client

WRITE_TOKEN = "w" * 32
READ_TOKEN = "r" * 32
TOKENS = (AdminToken("alice", WRITE_TOKEN), AdminToken("viewer", READ_TOKEN, can_write=False))


@pytest.fixture
def app(tmp_path, sqlite_url):
    from app import create_app

    application = create_app(settings=make_settings(tmp_path, sqlite_url, admin_tokens=TOKENS))
    application.config["TESTING"] = True
    yield application
    services_of(application).close()


def sign_in(client, token: str = WRITE_TOKEN):
    response = client.post("/admin/login", data={"token": token})
    assert response.status_code == 303, response.data
    return response


@pytest.fixture
def writer(app):
    client = app.test_client()
    sign_in(client)
    return client


@pytest.fixture
def viewer(app):
    client = app.test_client()
    sign_in(client, READ_TOKEN)
    return client


def flags(app):
    return services_of(app).flags


@pytest.mark.parametrize("page", ["/admin/", "/admin/flags", "/admin/flags/refactored_upload", "/admin/shadow",
                                  "/admin/rollout", "/admin/reports"])
def test_every_admin_page_redirects_to_the_sign_in_page_without_a_session(app, page):
    response = app.test_client().get(page)
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/admin/login?next=")


def test_a_change_without_a_session_is_redirected_and_changes_nothing(app):
    response = app.test_client().post("/admin/flags/refactored_upload/percent", data={"percent": "50"})
    assert response.status_code == 303 and "/admin/login" in response.headers["Location"]
    assert flags(app).get("refactored_upload").percent == 0


def test_signing_in_sets_a_strict_httponly_expiring_cookie_and_returns_to_the_page_asked_for(app):
    client = app.test_client()
    response = client.post("/admin/login", data={"token": WRITE_TOKEN, "next": "/admin/shadow"})
    assert response.status_code == 303 and response.headers["Location"] == "/admin/shadow"
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith(COOKIE + "="))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Max-Age=28800" in cookie and "Path=/admin" in cookie
    assert "Secure" not in cookie  # only in production
    assert WRITE_TOKEN not in cookie  # a keyed fingerprint, never the token
    assert b"alice" in client.get("/admin/shadow").data


def test_the_cookie_is_secure_in_production(tmp_path, sqlite_url):
    from app import create_app

    settings = make_settings(tmp_path, sqlite_url, admin_tokens=TOKENS, environment="production")
    app = create_app(settings=settings)
    try:
        response = app.test_client().post("/admin/login", data={"token": WRITE_TOKEN})
        cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith(COOKIE + "="))
        assert "Secure" in cookie
    finally:
        services_of(app).close()


def test_sign_in_never_redirects_to_another_site(app):
    for target in ("https://evil.example/admin/", "//evil.example/admin/", "/upload", "/admin\\@evil.example"):
        response = app.test_client().post("/admin/login", data={"token": WRITE_TOKEN, "next": target})
        assert response.headers["Location"] == "/admin/", target


def test_a_wrong_token_is_refused_with_401_and_no_cookie(app):
    response = app.test_client().post("/admin/login", data={"token": "x" * 32})
    assert response.status_code == 401 and b"not valid" in response.data
    assert not any(h.startswith(COOKIE) for h in response.headers.getlist("Set-Cookie"))


def test_sign_out_ends_the_session(writer):
    assert writer.get("/admin/flags").status_code == 200
    response = writer.post("/admin/logout")
    assert response.status_code == 303
    assert writer.get("/admin/flags").status_code == 303


def test_a_token_removed_from_the_configuration_ends_its_sessions(app, writer):
    services = services_of(app)
    app.extensions["harness"] = type(services)(**{**services.__dict__, "settings": services.settings.with_overrides(
        {"admin_tokens": (TOKENS[1],)})})
    assert writer.get("/admin/flags").status_code == 303


def test_a_forged_cookie_is_no_session(app):
    client = app.test_client()
    client.set_cookie(COOKIE, "eyJhIjoiYWxpY2UiLCJ3Ijp0cnVlfQ.forged.signature", path="/admin")
    assert client.get("/admin/flags").status_code == 303


def test_the_admin_session_cookie_is_not_accepted_by_the_json_api(writer):
    assert writer.get("/admin/api/flags").status_code == 401


def test_the_flags_page_lists_each_flag_with_its_state_and_last_change(app, writer):
    flags(app).set_percent("refactored_upload", 10, actor="bob", reason="first step")
    flags(app).kill("shadow_upload", actor="carol", reason="noisy")
    page = writer.get("/admin/flags").get_data(as_text=True)
    row = re.search(r"refactored_upload</a>.*?</tr>", page, re.S).group(0)
    assert "10%" in row and "live" in row and "by bob (percent): first step" in row and "direct: 0 / 0" in row
    shadow_row = re.search(r">shadow_upload</a>.*?</tr>", page, re.S).group(0)
    assert "killed" in shadow_row and "carol" in shadow_row and "noisy" in shadow_row


def test_the_flags_page_counts_the_users_each_path_served_in_the_last_hour(app, writer):
    from app.workbook.generator import generate_workbook
    from tests.conftest import post_file

    flags(app).allow("refactored_upload", ["dana"], actor="alice")
    uploader = app.test_client()
    for seed, user in ((1, "dana"), (2, "erin"), (3, "erin")):
        data = generate_workbook("landfill_v01_00", seed=seed).data
        post_file(uploader, "/upload_refactored" if user == "dana" else "/upload_original", data,
                  headers={"X-Portal-User": user})
    page = writer.get("/admin/flags").get_data(as_text=True)
    row = re.search(r">refactored_upload</a>.*?</tr>", page, re.S).group(0)
    assert "direct: 1 / 1" in row  # anonymous ids: one browser each way


def test_setting_the_percent_suggests_the_plans_next_step_and_records_who_and_why(app, writer):
    page = writer.get("/admin/flags/refactored_upload").get_data(as_text=True)
    assert "Next step: <strong>25%</strong>" in page and 'value="25"' in page
    response = writer.post("/admin/flags/refactored_upload/percent", data={"percent": "25", "reason": "step one"})
    assert response.status_code == 303
    page = writer.get(response.headers["Location"]).get_data(as_text=True)
    assert "rollout 25%" in page and "Next step: <strong>50%</strong>" in page
    entry = flags(app).history(flag="refactored_upload", limit=1)[0]
    assert (entry.actor, entry.action, entry.new, entry.reason) == ("alice", "percent", 25.0, "step one")


def test_allow_and_deny_lists_add_and_remove_users(app, writer):
    writer.post("/admin/flags/refactored_upload/list", data={"verb": "allow", "users": "dana, erin"})
    writer.post("/admin/flags/refactored_upload/list", data={"verb": "deny", "users": "mallory"})
    writer.post("/admin/flags/refactored_upload/list", data={"verb": "unallow", "users": "erin"})
    state = flags(app).get("refactored_upload")
    assert state.allow == {"dana"} and state.deny == {"mallory"}


def test_kill_asks_for_a_reason_then_a_confirmation_and_resume_lifts_it(app, writer):
    response = writer.post("/admin/flags/refactored_upload/kill", data={"reason": ""})
    assert response.status_code == 400 and b"a reason is required" in response.data
    asked = writer.post("/admin/flags/refactored_upload/kill", data={"reason": "errors up"})
    assert asked.status_code == 200 and b"Yes, kill refactored_upload" in asked.data
    assert not flags(app).get("refactored_upload").killed  # not until confirmed
    done = writer.post("/admin/flags/refactored_upload/kill", data={"reason": "errors up", "confirm": "yes"})
    assert done.status_code == 303 and flags(app).get("refactored_upload").killed
    writer.post("/admin/flags/refactored_upload/resume", data={"reason": "fixed", "confirm": "yes"})
    assert not flags(app).get("refactored_upload").killed


def test_history_is_newest_first_and_filters_by_actor(app, writer):
    flags(app).set_percent("refactored_upload", 5, actor="bob")
    writer.post("/admin/flags/refactored_upload/percent", data={"percent": "25"})
    page = writer.get("/admin/flags/refactored_upload").get_data(as_text=True)
    table = page[page.index('id="history"'):]
    assert table.index("<td>alice</td>") < table.index("<td>bob</td>") < table.index("<td>system</td>")
    only_bob = writer.get("/admin/flags/refactored_upload?actor=bob").get_data(as_text=True)
    table = only_bob[only_bob.index('id="history"'):]
    assert "<td>bob</td>" in table and "<td>alice</td>" not in table


def test_rollback_everything_confirms_then_kills_every_refactored_flag_and_says_how_fast(app, writer):
    flags(app).set_percent("refactored_upload", 50, actor="bob")
    asked = writer.post("/admin/rollback", data={"reason": "bad deploy", "back": "/admin/flags"})
    assert b"Yes, roll back everything" in asked.data and not flags(app).get("refactored_upload").killed
    done = writer.post("/admin/rollback", data={"reason": "bad deploy", "confirm": "yes"})
    text = done.get_data(as_text=True)
    assert done.status_code == 200 and "refactored_upload" in text and "refactored_staged_upload" in text
    assert re.search(r"Written in [\d.]+ ms;\s+this worker decided original after [\d.]+ ms", text), text
    assert re.search(r"It reached all 1 worker in [\d.]+ s \(this process is the only one measured", text), text
    assert all(flags(app).get(name).killed for name in ("refactored_upload", "refactored_staged_upload"))
    assert not flags(app).get("shadow_upload").killed


def test_every_admin_page_header_carries_the_rollback_button_for_writers(writer):
    for page in ("/admin/flags", "/admin/flags/refactored_upload", "/admin/shadow", "/admin/rollout", "/admin/reports"):
        assert b'id="rollback-everything"' in writer.get(page).data, page


def test_a_read_only_actor_sees_everything_but_no_buttons_and_gets_403(app, viewer):
    for page in ("/admin/flags", "/admin/flags/refactored_upload", "/admin/shadow"):
        html = viewer.get(page).get_data(as_text=True)
        assert "viewer (read-only)" in html
        assert 'id="rollback-everything"' not in html and 'id="set-percent"' not in html and 'id="kill"' not in html
    for url, data in (("/admin/flags/refactored_upload/percent", {"percent": "50"}),
                      ("/admin/flags/refactored_upload/kill", {"reason": "x", "confirm": "yes"}),
                      ("/admin/rollback", {"reason": "x", "confirm": "yes"})):
        assert viewer.post(url, data=data).status_code == 403
    state = flags(app).get("refactored_upload")
    assert state.percent == 0 and not state.killed


def test_an_admin_form_post_without_the_csrf_token_is_400_and_changes_nothing(app):
    client = raw_client(app)
    sign_in_page = client.get("/admin/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', sign_in_page).group(1)
    client.post("/admin/login", data={"token": WRITE_TOKEN, "csrf_token": token})
    response = client.post("/admin/rollback", data={"reason": "forged", "confirm": "yes"},
                           headers={"Origin": "https://evil.example"})
    assert response.status_code == 400 and b"CSRF" in response.data
    assert not flags(app).get("refactored_upload").killed


@pytest.mark.parametrize("field, size, message", [("reason", 1001, "at most 1000"), ("users", 256, "at most 255")])
def test_admin_page_input_past_its_bound_is_400_with_a_message(app, writer, field, size, message):
    if field == "reason":
        response = writer.post("/admin/flags/refactored_upload/percent", data={"percent": "5", "reason": "r" * size})
    else:
        response = writer.post("/admin/flags/refactored_upload/list", data={"verb": "allow", "users": "u" * size})
    assert response.status_code == 400 and message.encode() in response.data
    assert flags(app).get("refactored_upload").percent == 0 and not flags(app).get("refactored_upload").allow


def test_an_admin_body_past_64_kb_is_400_before_it_is_read(app, writer):
    response = writer.post("/admin/flags/refactored_upload/percent", data={"percent": "5", "reason": "r" * 70_000})
    assert response.status_code == 400 and b"at most 65536 bytes" in response.data
    api = app.test_client().post("/admin/api/flags/rollback", data=b"{" + b" " * 70_000 + b"}",
                                 headers={"Authorization": f"Bearer {WRITE_TOKEN}", "Content-Type": "application/json"})
    assert api.status_code == 400 and api.json["error"] == "body_too_large"
    assert not flags(app).get("refactored_upload").killed


def test_the_shadow_page_shows_results_top_fields_and_one_mismatch_escaped_and_folded(app, writer):
    import datetime as dt

    from sqlalchemy import insert

    from shadow.records import mismatch_fields, mismatches

    store = services_of(app).shadowing.store
    long_value = "<script>alert(1)</script>" + "x" * 300
    with store.engine.begin() as conn:
        record_id = conn.execute(insert(mismatches).values(
            at=dt.datetime.now(dt.UTC), route="direct", control_path="original", candidate_path="refactored",
            user="dana", id_incidence=7, differences=[{"field": "payload.facility_name", "control": long_value,
                                                        "candidate": "short"}])).inserted_primary_key[0]
        conn.execute(insert(mismatch_fields), [{"mismatch_id": record_id, "route": "direct", "field": "payload.facility_name"}])
    services_of(app).metrics.shadow_runs.labels("direct", "original", "match").inc(3)
    page = writer.get("/admin/shadow").get_data(as_text=True)
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert '<details class="fold">' in page and "(325 characters)" in page
    assert re.search(r"<td>direct</td><td class=\"number\">3</td>", page)
    assert "payload.facility_name" in page and f"Mismatch #{record_id} in full" in page
    missing = writer.get("/admin/shadow?mismatch=999").get_data(as_text=True)
    assert "No mismatch #999" in missing


def test_an_expired_session_is_no_session(app, writer, monkeypatch):
    import time as clock

    later = clock.time() + 8 * 3600 + 5
    monkeypatch.setattr(clock, "time", lambda: later)  # the cookie's 8 hours have passed
    assert writer.get("/admin/flags").status_code == 303


def test_the_flags_page_still_shows_the_flags_when_the_database_is_down(tmp_path):
    from app import create_app

    down = "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1"
    app = create_app(settings=make_settings(tmp_path, down, admin_tokens=TOKENS))
    try:
        client = app.test_client()
        sign_in(client)
        page = client.get("/admin/flags")
        assert page.status_code == 200 and b"refactored_upload" in page.data and b"unavailable (database)" in page.data
    finally:
        services_of(app).close()
