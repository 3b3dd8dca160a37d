"""The portal as an attacker tries it: forged cross-site posts, text/plain bodies, framing, inline script."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app.ingest.models import Incidence, UploadedFile, utcnow
from app.ingest.persistence import apply_merge
from app.workbook.generator import generate_workbook
from loadtests.multipart import encode_multipart
from tests.conftest import make_settings, post_file
from tests.csrf import raw_client

EVIL = {"Origin": "https://evil.example", "Referer": "https://evil.example/win-a-prize"}


@pytest.fixture
def app(tmp_path, sqlite_url):
    from app import create_app
    from app.compose import services_of

    application = create_app(settings=make_settings(tmp_path, sqlite_url, trust_user_header=True))
    yield application
    services_of(application).close()


@pytest.fixture
def staged(app):
    """A staged upload of incidence 7001 (stored facility name "Before"), as victim `vic`."""
    from app.compose import services_of

    services = services_of(app)
    apply_merge(services.db, 7001, {"id_incidence": 7001, "facility_name": "Before"}, sector="Energy", user="staff",
                comments=None, now=utcnow())
    workbook = generate_workbook("energy_v01_00", seed=5, id_incidence=7001, values={"facility_name": "After"})
    response = post_file(app.test_client(), "/upload_staged_original", workbook.data, headers={"X-Portal-User": "vic"})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["staged_filename"]


def _facility(app) -> str:
    from app.compose import services_of

    with services_of(app).db.session() as s:
        return s.get(Incidence, 7001).misc_json["facility_name"]


def _uploads(app) -> int:
    from app.compose import services_of

    with services_of(app).db.session() as s:
        return s.execute(select(func.count()).select_from(UploadedFile)).scalar_one()


def test_a_cross_site_confirm_in_the_victims_name_is_400_and_changes_nothing(app, staged):
    response = raw_client(app).post(f"/confirm_staged/7001/{staged}", data={"confirm": "facility_name"},
                                    headers={**EVIL, "X-Portal-User": "vic"})
    assert response.status_code == 400 and b"CSRF token is missing" in response.data
    assert _facility(app) == "Before"


def test_an_empty_cross_site_discard_is_400_and_the_upload_stays_staged(app, staged):
    from app.compose import services_of

    response = raw_client(app).post(f"/discard_staged_update/7001/{staged}", headers={**EVIL, "X-Portal-User": "vic"})
    assert response.status_code == 400
    assert (services_of(app).files.staging / staged).exists()


@pytest.mark.parametrize("url", ["/discard_staged_update/7001/{name}", "/confirm_staged/7001/{name}"])
def test_a_text_plain_body_is_400_and_consumes_nothing(app, staged, url):
    from app.compose import services_of

    response = raw_client(app).post(url.format(name=staged), data="confirm=facility_name", content_type="text/plain",
                                    headers={**EVIL, "X-Portal-User": "vic"})
    assert response.status_code == 400
    assert (services_of(app).files.staging / staged).exists() and _facility(app) == "Before"


def test_an_upload_without_the_token_is_400_and_not_even_recorded(app):
    before = _uploads(app)
    body, content_type = encode_multipart(generate_workbook("landfill_v01_00", seed=1).data, "form.xlsx")
    response = raw_client(app).post("/upload", data=body, content_type=content_type, headers=EVIL)
    assert response.status_code == 400 and _uploads(app) == before


def test_a_wrong_token_is_refused_too(app, staged):
    client = raw_client(app)
    client.get("/upload")  # a session with a token of its own
    response = client.post(f"/discard_staged_update/7001/{staged}", data={"csrf_token": "forged"})
    assert response.status_code == 400 and b"CSRF token is invalid" in response.data


def test_the_review_pages_forms_carry_the_token_a_browser_submits(app, staged):
    browser = raw_client(app)
    page = browser.get(f"/review_staged/7001/{staged}").get_data(as_text=True)
    tokens = re.findall(r'name="csrf_token" value="([^"]+)"', page)
    assert len(tokens) == 2  # confirm and discard
    response = browser.post(f"/confirm_staged/7001/{staged}", data={"confirm": "facility_name", "csrf_token": tokens[0]})
    assert response.status_code == 303 and _facility(app) == "After"


def test_the_json_api_needs_no_csrf_token_but_its_bearer_token(tmp_path, sqlite_url):
    from app import create_app
    from app.compose import services_of
    from app.config import AdminToken

    app = create_app(settings=make_settings(tmp_path, sqlite_url, admin_tokens=(AdminToken("ops", "t" * 32),)))
    try:
        client = raw_client(app)
        ok = client.put("/admin/api/flags/refactored_upload/percent", json={"percent": 5},
                        headers={"Authorization": "Bearer " + "t" * 32})
        assert ok.status_code == 200
        assert client.put("/admin/api/flags/refactored_upload/percent", json={"percent": 6}).status_code == 401
    finally:
        services_of(app).close()


@pytest.mark.parametrize("url", ["/upload", "/upload_staged", "/list_staged", "/review_staged/7001/{name}",
                                 "/incidence_update/7001", "/admin/login", "/healthz", "/no/such/page"])
def test_every_page_carries_the_security_headers_and_no_inline_script(app, staged, url):
    response = app.test_client().get(url.format(name=staged))
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    html = response.get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline <script>"
    assert not re.search(r"\son[a-z]+=", html), "inline event handler"
    for style in re.findall(r"<style[^>]*>", html):
        nonce = re.search(r'nonce="([^"]+)"', style).group(1)
        assert f"'nonce-{nonce}'" in policy
