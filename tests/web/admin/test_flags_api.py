"""The JSON admin API under /admin/api/flags, through the real app and HTTP test client."""

from __future__ import annotations

import pytest

from app import create_app
from app.compose import services_of
from app.config import AdminToken

WRITE_TOKEN = "w" * 32
READ_TOKEN = "r" * 32


def build_app(tmp_path, tokens):
    db = tmp_path / "portal.db"
    app = create_app(
        test_config={
            "database_url": f"sqlite:///{db}",
            "flag_store_url": f"sqlite:///{db}",
            "instance_path": tmp_path / "instance",
            "upload_folder": tmp_path / "uploads",
            "secret_key": "x" * 40,
            "admin_tokens": tokens,
        }
    )
    app.config["TESTING"] = True
    return app


@pytest.fixture
def app(tmp_path):
    app = build_app(tmp_path, (AdminToken("alice", WRITE_TOKEN), AdminToken("viewer", READ_TOKEN, can_write=False)))
    yield app
    services_of(app).flags.close()


@pytest.fixture
def client(app):
    return app.test_client()


def auth(token: str = WRITE_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_app_creates_the_four_flags_at_start_up_and_lists_them(client):
    response = client.get("/admin/api/flags", headers=auth(READ_TOKEN))
    assert response.status_code == 200
    assert [flag["name"] for flag in response.json["flags"]] == [
        "refactored_upload",
        "refactored_staged_upload",
        "shadow_upload",
        "shadow_staged_upload",
    ]
    assert response.json["propagation_seconds"] == 1


def test_a_restart_does_not_reset_the_flags(tmp_path):
    tokens = (AdminToken("alice", WRITE_TOKEN),)
    first = build_app(tmp_path, tokens)
    first.test_client().put("/admin/api/flags/refactored_upload/percent", json={"percent": 25}, headers=auth())
    services_of(first).flags.close()
    second = build_app(tmp_path, tokens)
    response = second.test_client().get("/admin/api/flags/refactored_upload", headers=auth())
    assert response.json["flag"]["percent"] == 25
    services_of(second).flags.close()


def test_without_a_token_the_api_answers_401(client):
    response = client.get("/admin/api/flags")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.post("/admin/api/flags/rollback", json={"reason": "x"}).status_code == 401


@pytest.mark.parametrize("header", ["Bearer nope", f"Basic {WRITE_TOKEN}", "Bearer", f"Bearer {WRITE_TOKEN}x"])
def test_a_wrong_token_answers_401(client, header):
    assert client.get("/admin/api/flags", headers={"Authorization": header}).status_code == 401


def test_a_read_only_token_can_read_but_writing_answers_403(client):
    assert client.get("/admin/api/flags/refactored_upload", headers=auth(READ_TOKEN)).status_code == 200
    response = client.put("/admin/api/flags/refactored_upload/percent", json={"percent": 5}, headers=auth(READ_TOKEN))
    assert response.status_code == 403
    assert client.get("/admin/api/flags/refactored_upload", headers=auth()).json["flag"]["percent"] == 0


def test_with_no_token_configured_the_api_refuses_everything(tmp_path):
    app = build_app(tmp_path, ())
    client = app.test_client()
    response = client.post("/admin/api/flags/rollback", json={"reason": "x"}, headers=auth())
    assert response.status_code == 401
    assert "HARNESS_ADMIN_TOKENS" in response.json["message"]
    services_of(app).flags.close()


def test_setting_the_percent_changes_decisions_and_is_audited_under_the_tokens_actor(client, app):
    response = client.put(
        "/admin/api/flags/refactored_upload/percent", json={"percent": 100, "reason": "go"}, headers=auth()
    )
    assert response.status_code == 200
    assert response.json["flag"]["percent"] == 100
    assert services_of(app).flags.decide("refactored_upload", "anyone").enabled
    entries = client.get("/admin/api/flags/history?flag=refactored_upload", headers=auth()).json["entries"]
    assert (entries[0]["action"], entries[0]["actor"], entries[0]["old"], entries[0]["new"], entries[0]["reason"]) == (
        "percent",
        "alice",
        0.0,
        100.0,
        "go",
    )


def test_allow_and_deny_lists_are_edited_with_user_lists(client):
    client.post("/admin/api/flags/refactored_upload/allow", json={"users": ["qa-1", 7]}, headers=auth())
    client.post("/admin/api/flags/refactored_upload/deny", json={"users": ["ceo"]}, headers=auth())
    response = client.post("/admin/api/flags/refactored_upload/unallow", json={"users": [7]}, headers=auth())
    assert response.json["flag"]["allow"] == ["qa-1"]
    response = client.post("/admin/api/flags/refactored_upload/undeny", json={"users": ["ceo"]}, headers=auth())
    assert response.json["flag"]["deny"] == []


def test_kill_resume_and_rollback(client, app):
    service = services_of(app).flags
    client.put("/admin/api/flags/refactored_upload/percent", json={"percent": 100}, headers=auth())
    assert client.post("/admin/api/flags/refactored_upload/kill", json={}, headers=auth()).status_code == 400
    response = client.post("/admin/api/flags/refactored_upload/kill", json={"reason": "errors"}, headers=auth())
    assert response.status_code == 200 and response.json["flag"]["killed"] is True
    assert service.decide("refactored_upload", "u").reason == "kill_switch"
    client.post("/admin/api/flags/refactored_upload/resume", headers=auth())
    assert service.decide("refactored_upload", "u").enabled
    response = client.post("/admin/api/flags/rollback", json={"reason": "latency"}, headers=auth())
    assert [flag["name"] for flag in response.json["flags"]] == ["refactored_upload", "refactored_staged_upload"]
    seen = response.json["seen_by_this_worker_seconds"]  # measured on the serving worker, not only a bound
    assert seen is not None and 0 <= response.json["written_seconds"] <= seen <= response.json["propagation_seconds"] + 1
    assert service.decide("refactored_upload", "u").path == "original"
    # No gunicorn metrics folder: the serving process is the only worker measured, and it says so.
    assert response.json["workers"] == 1 and response.json["workers_measured"] == "this process"
    assert seen <= response.json["reached_all_workers_seconds"] <= response.json["limit_seconds"]
    assert response.json["workers_behind"] == {}


@pytest.mark.parametrize(
    "method, path, body, status, error",
    [
        ("get", "/admin/api/flags/nope", None, 404, "unknown_flag"),
        ("put", "/admin/api/flags/nope/percent", {"percent": 5}, 404, "unknown_flag"),
        ("put", "/admin/api/flags/refactored_upload/percent", {"percent": 101}, 400, "invalid_percent"),
        ("put", "/admin/api/flags/refactored_upload/percent", {"percent": "lots"}, 400, "invalid_percent"),
        ("put", "/admin/api/flags/refactored_upload/percent", {}, 400, "invalid_value"),
        ("put", "/admin/api/flags/refactored_upload/percent", [25], 400, "invalid_value"),
        ("post", "/admin/api/flags/refactored_upload/allow", {"users": []}, 400, "invalid_value"),
        ("post", "/admin/api/flags/refactored_upload/allow", {"users": [None]}, 400, "invalid_user"),
        ("post", "/admin/api/flags/rollback", {"reason": " "}, 400, "invalid_reason"),
        ("get", "/admin/api/flags/history?action=explode", None, 400, "invalid_value"),
        ("get", "/admin/api/flags/history?limit=x", None, 400, "invalid_value"),
    ],
)
def test_bad_requests_get_a_json_error_naming_the_problem(client, method, path, body, status, error):
    response = getattr(client, method)(path, json=body, headers=auth())
    assert response.status_code == status
    assert response.json["error"] == error


def test_an_unreachable_store_answers_503_and_the_app_still_starts(tmp_path):
    app = create_app(
        test_config={
            "database_url": f"sqlite:///{tmp_path / 'portal.db'}",
            "flag_store_url": "redis://127.0.0.1:1/0",
            "instance_path": tmp_path / "instance",
            "upload_folder": tmp_path / "uploads",
            "secret_key": "x" * 40,
            "admin_tokens": (AdminToken("alice", WRITE_TOKEN),),
        }
    )
    client = app.test_client()
    response = client.post("/admin/api/flags/refactored_upload/kill", json={"reason": "x"}, headers=auth())
    assert response.status_code == 503
    assert response.json["error"] == "store_unavailable"
    assert services_of(app).flags.decide("refactored_upload", "u").reason == "store_fallback"
    services_of(app).flags.close()


@pytest.mark.parametrize("url, method, body, error", [
    ("/admin/api/flags/refactored_upload/percent", "put", {"percent": 5, "reason": "r" * 1001}, "invalid_reason"),
    ("/admin/api/flags/refactored_upload/kill", "post", {"reason": "r" * 1001}, "invalid_reason"),
    ("/admin/api/flags/rollback", "post", {"reason": "r" * 15_000}, "invalid_reason"),
    ("/admin/api/flags/refactored_upload/allow", "post", {"users": ["u" * 256]}, "invalid_user"),
])
def test_input_past_its_bound_is_400_with_a_message_and_nothing_is_stored(client, url, method, body, error):
    response = getattr(client, method)(url, json=body, headers=auth())
    assert response.status_code == 400 and response.json["error"] == error
    assert "at most" in response.json["message"]
    state = client.get("/admin/api/flags/refactored_upload", headers=auth()).json["flag"]
    assert state["percent"] == 0 and not state["killed"] and state["allow"] == []
    assert client.get("/admin/api/flags/history?action=kill", headers=auth()).json["entries"] == []


def test_a_body_past_64_kb_is_400_before_it_is_parsed(client):
    response = client.post("/admin/api/flags/refactored_upload/kill", data=b'{"reason": "' + b"r" * 70_000 + b'"}',
                           content_type="application/json", headers=auth())
    assert response.status_code == 400 and response.json["error"] == "body_too_large"
    assert "65536" in response.json["message"]
