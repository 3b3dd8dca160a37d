"""The traps staff fell into on the review and result pages: an empty confirm, a sector
switch, JSON bodies of the wrong shape, and the path showing through."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.ingest.models import Incidence, PortalUpdate, UploadedFile, utcnow
from app.ingest.persistence import apply_merge
from app.workbook.generator import generate_workbook
from loadtests.multipart import encode_multipart
from tests.conftest import JSON, post_file

PATHS = ["original", "refactored"]


def _stage(client, path, workbook):
    response = post_file(client, f"/upload_staged_{path}", workbook.data)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["staged_filename"]


def _incidence(db, id_incidence):
    with db.session() as s:
        return s.get(Incidence, id_incidence)


def _statuses(db):
    with db.session() as s:
        return s.execute(select(UploadedFile.status).order_by(UploadedFile.id)).scalars().all()


@pytest.mark.parametrize("path", PATHS)
def test_confirm_with_nothing_ticked_is_refused_and_the_upload_stays_reviewable(client, db, portal, path):
    apply_merge(db, 6001, {"id_incidence": 6001, "facility_name": "Before"}, sector="Energy", user="staff",
                comments=None, now=utcnow())
    stamped = _incidence(db, 6001).updated_at
    name = _stage(client, path, generate_workbook("energy_v01_00", seed=11, id_incidence=6001))

    page = client.post(f"/confirm_staged/6001/{name}", data={})
    assert page.status_code == 422
    assert b"no field was ticked, so nothing was saved" in page.data.lower()
    assert b"Confirm checked fields" in page.data  # the review is shown again
    as_json = client.post(f"/confirm_staged/6001/{name}", json={"confirm": []}, headers=JSON)
    assert as_json.status_code == 422 and "nothing was saved" in as_json.get_json()["error_message"]

    assert (portal.files.staging / name).exists() and not (portal.files.processed / name).exists()
    after = _incidence(db, 6001)
    assert (after.updated_at, after.updated_by, after.misc_json["facility_name"]) == (stamped, "staff", "Before")
    assert _statuses(db) == ["staged"]
    assert client.get(f"/review_staged/6001/{name}").status_code == 200


def test_an_upload_equal_to_the_stored_incidence_says_so_and_offers_discard(client, db):
    workbook = generate_workbook("energy_v01_00", seed=12, id_incidence=6002)
    assert post_file(client, "/upload_refactored", workbook.data).status_code == 200
    name = _stage(client, "refactored", workbook)
    page = client.get(f"/review_staged/6002/{name}").data
    assert b"nothing to confirm" in page
    assert b"Confirm checked fields" not in page
    assert f'action="/discard_staged_update/6002/{name}"'.encode() in page


@pytest.mark.parametrize("path", PATHS)
def test_a_direct_upload_that_switches_the_sector_warns_on_the_result(client, db, path):
    assert post_file(client, f"/upload_{path}", generate_workbook("energy_v01_00", seed=13, id_incidence=6003).data).status_code == 200
    switched = post_file(client, f"/upload_{path}", generate_workbook("landfill_v01_00", seed=13, id_incidence=6003).data)
    assert switched.status_code == 200
    assert switched.get_json()["sector_change"] == {"from": "Energy", "to": "Landfill"}
    same = post_file(client, f"/upload_{path}", generate_workbook("landfill_v01_00", seed=14, id_incidence=6003).data)
    assert same.get_json()["sector_change"] is None

    energy = generate_workbook("energy_v01_00", seed=15, id_incidence=6003)
    body, content_type = encode_multipart(energy.data, "f.xlsx")
    page = client.post(f"/upload_{path}", data=body, content_type=content_type, follow_redirects=True)
    assert b"changed the incidence&#39;s sector from Landfill to Energy" in page.data


@pytest.mark.parametrize("path", PATHS)
def test_a_staged_sector_switch_needs_its_own_tick(client, db, path):
    assert post_file(client, "/upload_refactored", generate_workbook("energy_v01_00", seed=16, id_incidence=6004).data).status_code == 200
    name = _stage(client, path, generate_workbook("landfill_v01_00", seed=16, id_incidence=6004))
    page = client.get(f"/review_staged/6004/{name}").data
    assert b"change the incidence's sector from <strong>Energy</strong> to <strong>Landfill</strong>" in page
    assert b'value="sector" id="confirm-sector" class="explicit"' in page

    offered = [f["key"] for f in client.get(f"/review_staged/6004/{name}", headers=JSON).get_json()["fields"]
               if f["confirmable"] and f["key"] != "sector"]
    response = client.post(f"/confirm_staged/6004/{name}", json={"confirm": offered}, headers=JSON)
    assert response.status_code == 200 and offered
    incidence = _incidence(db, 6004)
    assert (incidence.sector, incidence.misc_json["sector"]) == ("Energy", "Energy")


def test_confirming_the_sector_switch_changes_column_and_field(client, db):
    assert post_file(client, "/upload_refactored", generate_workbook("energy_v01_00", seed=17, id_incidence=6005).data).status_code == 200
    name = _stage(client, "refactored", generate_workbook("landfill_v01_00", seed=17, id_incidence=6005))
    assert client.post(f"/confirm_staged/6005/{name}", json={"confirm": ["sector"]}, headers=JSON).status_code == 200
    incidence = _incidence(db, 6005)
    assert (incidence.sector, incidence.misc_json["sector"]) == ("Landfill", "Landfill")


@pytest.mark.parametrize("raw, status", [
    (b'"x"', 400), (b"123", 400), (b"[]", 400), (b"null", 400), (b"[1, {\"a\": [2]}]", 400), (b"{not json", 400),
    # a "confirm" that is not a list of names is a wrong shape too (400); an empty one is nothing ticked (422)
    (b'{"confirm": [{"a": 1}]}', 400), (b'{"confirm": {"facility_name": true}}', 400), (b"{}", 422),
])
def test_a_json_body_of_the_wrong_shape_is_refused_and_consumes_nothing(client, db, portal, raw, status):
    name = _stage(client, "refactored", generate_workbook("energy_v01_00", seed=18, id_incidence=6006))
    response = client.post(f"/confirm_staged/6006/{name}", data=raw, content_type="application/json", headers=JSON)
    assert response.status_code == status
    assert response.get_json()["ok"] is False and response.get_json()["error_message"]
    assert (portal.files.staging / name).exists()
    assert _incidence(db, 6006) is None
    assert _statuses(db) == ["staged"]


def test_the_history_reads_the_same_whichever_path_served_the_upload(client, db):
    for n, path in enumerate(PATHS):
        workbook = generate_workbook("energy_v01_00", seed=19 + n, id_incidence=6010 + n)
        assert post_file(client, f"/upload_{path}", workbook.data).status_code == 200
    with db.session() as s:
        comments = {row.id_incidence: row.comments for row in s.execute(select(PortalUpdate)).scalars()}
    assert comments == {6010: "direct upload", 6011: "direct upload"}


def test_refactored_error_messages_read_as_sentences_like_the_originals(client):
    for path in PATHS:
        message = post_file(client, f"/upload_{path}", b"%PDF-1.4 not a workbook", filename="f.pdf").get_json()["error_message"]
        assert message[0].isupper(), (path, message)
