"""JSON APIs answer JSON for every status, 405 and 404 included, whatever the client accepts."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("method, url, status", [
    ("DELETE", "/admin/api/flags", 405),
    ("PUT", "/admin/api/shadow/summary", 405),
    ("GET", "/admin/api/flags/no/such/thing", 404),
])
def test_the_admin_api_answers_json_for_every_status(client, method, url, status):
    response = client.open(url, method=method, headers={"Accept": "text/html"})
    assert response.status_code == status
    assert response.is_json, response.get_data(as_text=True)[:200]
    body = response.get_json()
    assert body["ok"] is False and body["error_message"] and body["message"]
    if status == 405:
        assert response.headers["Allow"]


def test_a_browser_page_still_gets_the_error_page(client):
    response = client.get("/confirm_staged/1/x.json", headers={"Accept": "text/html"})
    assert response.status_code == 405 and not response.is_json
