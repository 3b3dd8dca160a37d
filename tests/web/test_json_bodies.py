"""Every JSON body shape is validated: a list, a string, a number, null, broken JSON or nested
junk sent to any endpoint that takes a body is a 400 with a message, never a 500."""

from __future__ import annotations

import itertools
import json

import pytest

from app import create_app
from app.compose import services_of
from app.config import AdminToken
from app.workbook.generator import generate_workbook
from tests.conftest import JSON, make_settings, post_file

TOKEN = "t" * 32
# Raw bodies, sent as application/json.
JUNK = {
    "list": "[]",
    "list-of-junk": '[1, "a", null, {"confirm": ["x"]}]',
    "string": '"x"',
    "number": "123",
    "float": "1e309",
    "true": "true",
    "null": "null",
    "broken": '{"confirm": [',
    "not-utf8": b'{"confirm": ["\xff\xfe"]}',
    "nested-junk": json.dumps({"confirm": [[1], {"a": None}], "percent": {"x": [1, 2]}, "users": [{"u": 1}, [2]],
                               "reason": ["r"], "deep": [[[[[]]]]]}),
    "wrong-types": json.dumps({"confirm": "sector", "percent": "half", "users": "dana", "reason": 5}),
    "deep": "[" * 5000 + "]" * 5000,
}


@pytest.fixture
def app(tmp_path, sqlite_url):
    application = create_app(settings=make_settings(tmp_path, sqlite_url, admin_tokens=(AdminToken("alice", TOKEN),)))
    application.config["TESTING"] = True
    yield application
    services_of(application).flags.close()
    services_of(application).db.dispose()


@pytest.fixture
def staged_url(app):
    """A real staged upload, so the confirm endpoint gets as far as reading its body."""
    client = app.test_client()
    body = post_file(client, "/upload_staged_refactored", generate_workbook("energy_v01_00", seed=8, id_incidence=4401).data).get_json()
    return f"/confirm_staged/4401/{body['staged_filename']}"


def _json_endpoints(staged_url: str) -> list[tuple[str, str]]:
    """(method, URL) of every endpoint that reads a JSON body."""
    flags = "/admin/api/flags/refactored_upload"
    return [("POST", staged_url), ("PUT", f"{flags}/percent"), ("POST", f"{flags}/allow"), ("POST", f"{flags}/deny"),
            ("POST", f"{flags}/unallow"), ("POST", f"{flags}/undeny"), ("POST", f"{flags}/kill"),
            ("POST", f"{flags}/resume"), ("POST", "/admin/api/flags/rollback")]


def _send(client, method: str, url: str, raw):
    headers = {**JSON, "Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    return client.open(url, method=method, data=raw, headers=headers)


@pytest.mark.parametrize("shape", sorted(JUNK))
def test_each_json_endpoint_answers_a_wrong_shape_with_a_400_and_a_message(app, staged_url, shape):
    client = app.test_client()
    for method, url in _json_endpoints(staged_url):
        response = _send(client, method, url, JUNK[shape])
        assert response.status_code == 400, (method, url, response.get_data(as_text=True)[:300])
        body = response.get_json()
        assert body["ok"] is False and len(body["error_message"]) > 10, (method, url, body)
    assert services_of(app).files.staging.joinpath(staged_url.rsplit("/", 1)[-1]).exists()  # nothing consumed


def _every_writing_url(app, staged_url: str) -> list[tuple[str, str]]:
    """Every rule that takes POST, PUT, PATCH or DELETE, with sample arguments."""
    from flask import url_for

    samples = {"id_incidence": [4401], "filename": [staged_url.rsplit("/", 1)[-1]], "name": ["refactored_upload"],
               "upload_id": [987654]}
    found = []
    for rule in app.url_map.iter_rules():
        names = sorted(rule.arguments)
        # an `any(...)` converter: each of its values; else a sample value
        choices = [sorted(getattr(rule._converters[n], "items", None) or samples.get(n, ["x"])) for n in names]
        for method in sorted((rule.methods or set()) & {"POST", "PUT", "PATCH", "DELETE"}):
            for values in itertools.product(*choices):
                with app.test_request_context():
                    found.append((method, url_for(rule.endpoint, **dict(zip(names, values)))))
    return found


@pytest.mark.parametrize("shape", ["list", "string", "number", "null", "nested-junk", "broken"])
def test_no_endpoint_answers_a_junk_body_with_a_500(app, staged_url, shape):
    client = app.test_client()
    urls = _every_writing_url(app, staged_url)
    assert len(urls) >= 15  # the six uploads, confirm, discard, the flag writes
    for method, url in urls:
        if url.startswith("/discard_staged_update"):
            continue  # takes no body; a junk one would just discard (checked below)
        if url.startswith("/admin/") and not url.startswith("/admin/api/"):
            continue  # the admin pages take HTML forms, not JSON (tests/web/admin/test_pages.py)
        response = _send(client, method, url, JUNK[shape])
        assert response.status_code < 500, (method, url, response.status_code)
        assert response.status_code >= 400, (method, url, response.status_code)
        assert response.get_json()["error_message"], (method, url)


def test_an_upload_endpoint_sent_json_says_a_file_is_needed(app):
    response = _send(app.test_client(), "POST", "/upload", '{"file": "x"}')
    assert response.status_code == 400 and "no file was sent" in response.get_json()["error_message"]


def test_discard_ignores_its_body_and_discards(app, staged_url):
    url = staged_url.replace("/confirm_staged/", "/discard_staged_update/")
    assert _send(app.test_client(), "POST", url, JUNK["nested-junk"]).status_code == 200
