"""The pages a person uses: upload form, incidence page, staged list and review, health."""

from __future__ import annotations

import io

from app.workbook.generator import generate_workbook
from tests.conftest import JSON


def _form_post(client, url, data, filename="form.xlsx", **fields):
    return client.post(url, data={"file": (io.BytesIO(data), filename), **fields}, content_type="multipart/form-data")


def test_the_start_page_leads_to_the_upload_form(client):
    response = client.get("/", follow_redirects=True)
    assert response.status_code == 200
    assert b'type="file" name="file"' in response.data and b"Upload a feedback form" in response.data


def test_every_upload_route_serves_its_form(client):
    for url in ("/upload", "/upload_staged", "/upload_original", "/upload_refactored",
                "/upload_staged_original", "/upload_staged_refactored"):
        page = client.get(url)
        assert page.status_code == 200 and f'action="{url}"'.encode() in page.data


def test_a_direct_upload_redirects_to_the_incidence_page_showing_its_data(client):
    workbook = generate_workbook("landfill_v01_00", seed=1, values={"facility_name": "Sunshine Canyon <Landfill>"})
    response = _form_post(client, "/upload", workbook.data, comments="first try")
    assert response.status_code == 303
    assert response.headers["X-Ingest-Path"] == "original"  # the router is not wired yet
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    assert b"Upload saved to incidence" in page.data
    assert b"Sunshine Canyon &lt;Landfill&gt;" in page.data  # escaped, never raw HTML
    assert b"first try" in page.data


def test_a_staged_upload_redirects_to_its_review_with_checkboxes(client):
    workbook = generate_workbook("oil_and_gas_v01_00", seed=2)
    response = _form_post(client, "/upload_staged", workbook.data)
    assert response.status_code == 303
    review = client.get(response.headers["Location"])
    assert review.status_code == 200
    assert b"Confirm checked fields" in review.data and b'name="confirm"' in review.data
    listing = client.get("/list_staged")
    assert str(workbook.id_incidence).encode() in listing.data


def test_discard_from_the_review_page_returns_to_the_list(client):
    workbook = generate_workbook("oil_and_gas_v01_00", seed=3)
    location = _form_post(client, "/upload_staged_refactored", workbook.data).headers["Location"]
    _, _, id_incidence, filename = location.rsplit("/", 3)
    response = client.post(f"/discard_staged_update/{id_incidence}/{filename}")
    assert response.status_code == 303 and response.headers["Location"].endswith("/list_staged")
    assert b"Discarded" in client.get("/list_staged").data


def test_an_unknown_incidence_is_a_404_page_and_json(client):
    assert client.get("/incidence_update/424242").status_code == 404
    body = client.get("/incidence_update/424242", headers=JSON).get_json()
    assert body == {"ok": False, "error_message": "incidence 424242 does not exist"}


def test_the_incidence_json_holds_misc_json_and_history(client):
    workbook = generate_workbook("energy_v01_00", seed=4)
    client.post("/upload_refactored", data={"file": (io.BytesIO(workbook.data), "f.xlsx")}, headers=JSON)
    body = client.get(f"/incidence_update/{workbook.id_incidence}", headers=JSON).get_json()
    assert body["misc_json"]["id_incidence"] == workbook.id_incidence
    assert {h["key"] for h in body["history"]} >= {"id_incidence", "facility_name"}


def test_unknown_routes_and_methods_answer_in_kind(client):
    assert client.get("/nope", headers=JSON).get_json()["status"] == 404
    assert client.get("/nope").status_code == 404
    assert client.get("/confirm_staged/1/x.json").status_code == 405


def test_health_and_readiness(client):
    assert client.get("/healthz").get_json() == {"ok": True}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["database"] == "ok"


def test_with_the_database_down_uploads_get_503_and_the_file_is_still_kept(tmp_path):
    from app import create_app
    from tests.conftest import make_settings, post_file

    down = "postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2"
    app = create_app(settings=make_settings(tmp_path, down))
    client = app.test_client()
    ready = client.get("/readyz")
    assert ready.status_code == 503 and "unreachable" in ready.get_json()["database"]
    workbook = generate_workbook("energy_v01_00", seed=5)
    for url in ("/upload_original", "/upload_refactored"):
        response = post_file(client, url, workbook.data, filename="keep me.xlsx")
        assert response.status_code == 503
        assert response.get_json()["error_type"] == "database_error"
        assert "kept" in response.get_json()["error_message"] or "Database error" in response.get_json()["error_message"]
    kept = sorted(p.name for p in (tmp_path / "instance" / "uploads").glob("keep_me_ts_*.xlsx"))
    assert len(kept) == 2
    assert client.get("/incidence_update/1", headers=JSON).status_code == 503
    assert client.get("/list_staged").status_code == 200  # staged files live on disk


def test_pages_show_each_fields_question_next_to_its_name(client):
    workbook = generate_workbook("landfill_v01_00", seed=7)
    location = _form_post(client, "/upload_staged_refactored", workbook.data).headers["Location"]
    review = client.get(location).data
    assert b"Incidence/Emission ID" in review and b"check all" in review
    _form_post(client, "/upload_refactored", workbook.data)
    assert b"Incidence/Emission ID" in client.get(f"/incidence_update/{workbook.id_incidence}").data
