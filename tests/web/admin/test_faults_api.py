"""The faults API: read with any token, changed with an rw token, 404 when injection is off;
a change made through one gunicorn worker reaches the others over real HTTP."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest

from app import create_app
from app.compose import services_of
from app.config import AdminToken
from app.workbook.generator import generate_workbook
from loadtests.csrf import CsrfSession
from loadtests.multipart import encode_multipart
from tests.cli.test_serve import start_portal, stop_portal
from tests.conftest import make_settings, post_file

RW, RO = "w" * 24, "r" * 24
TOKENS = (AdminToken("ops", RW, can_write=True), AdminToken("auditor", RO, can_write=False))


def _auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def rehearsal(tmp_path, database_url):
    app = create_app(settings=make_settings(tmp_path, database_url, admin_tokens=TOKENS,
                                            faults="refactored.direct.delay_ms=1"))
    yield app
    services_of(app).db.dispose()


def test_get_shows_the_environments_faults(rehearsal):
    body = rehearsal.test_client().get("/admin/api/faults", headers=_auth(RO)).get_json()
    assert body == {"faults": {"refactored.direct.delay_ms": 1.0}, "spec": "refactored.direct.delay_ms=1",
                    "source": "environment", "updated_by": None}


def test_put_needs_an_rw_token_and_changes_the_faults(rehearsal):
    client = rehearsal.test_client()
    assert client.put("/admin/api/faults", json={"faults": {}}).status_code == 401
    assert client.put("/admin/api/faults", json={"faults": {}}, headers=_auth(RO)).status_code == 403
    changed = client.put("/admin/api/faults", json={"spec": "refactored.direct.error_rate=1"}, headers=_auth(RW))
    assert changed.status_code == 200
    assert changed.get_json()["faults"] == {"refactored.direct.error_rate": 1.0}
    assert changed.get_json()["updated_by"] == "ops"
    upload = post_file(client, "/upload_refactored", generate_workbook("energy_v01_00", seed=41).data)
    assert upload.get_json()["error_code"] == "injected_fault"
    reset = client.delete("/admin/api/faults", headers=_auth(RW)).get_json()
    assert reset["source"] == "environment"


@pytest.mark.parametrize("body, code", [
    ({"faults": {"refactored.direct.error_rate": 2}}, "invalid_fault"),
    ({"spec": "nonsense"}, "invalid_fault"),
    ({"faults": "refactored"}, "invalid_body"),
    ([], "invalid_body"),
])
def test_a_bad_change_is_a_400_naming_it(rehearsal, body, code):
    response = rehearsal.test_client().put("/admin/api/faults", json=body, headers=_auth(RW))
    assert (response.status_code, response.get_json()["error"]) == (400, code)


def test_the_api_is_404_when_injection_is_off(tmp_path, sqlite_url):
    app = create_app(settings=make_settings(tmp_path, sqlite_url, admin_tokens=TOKENS))
    response = app.test_client().get("/admin/api/faults", headers=_auth(RO))
    assert (response.status_code, response.get_json()["error"]) == (404, "faults_off")
    services_of(app).db.dispose()


def _request(method: str, url: str, body: dict | None = None, token: str = RW):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={**_auth(token), "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _upload(base: str) -> tuple[int, dict]:
    body, content_type = encode_multipart(generate_workbook("energy_v01_00", seed=42).data, "form.xlsx")
    request = urllib.request.Request(f"{base}/upload_refactored", data=body, method="POST",
                                     headers={"Content-Type": content_type, "Accept": "application/json",
                                              **CsrfSession.fetch(base).headers})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_change_reaches_every_gunicorn_worker(tmp_path):
    base, _, process = start_portal(tmp_path, HARNESS_FAULTS="", HARNESS_ADMIN_TOKENS=f"ops:rw:{RW}")
    try:
        assert [_upload(base)[0] for _ in range(4)] == [200] * 4
        _request("PUT", f"{base}/admin/api/faults", {"faults": {"refactored.direct.error_rate": 1}})
        time.sleep(1.2)  # each worker rereads the faults at most once a second
        answers = [_upload(base) for _ in range(8)]
        assert [(status, body["error_code"]) for status, body in answers] == [(503, "injected_fault")] * 8
        assert _request("GET", f"{base}/admin/api/faults")["source"] == "api"
    finally:
        stop_portal(process)
    log = process.log_path.read_text()
    assert log.count("FAULT INJECTION IS ON") >= 1
