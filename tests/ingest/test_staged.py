"""Staged uploads: the staged file, review, confirm of chosen fields, conflicts, discard."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app.ingest.models import Incidence, PortalUpdate, UploadedFile, utcnow
from app.ingest.persistence import apply_merge
from app.workbook.generator import generate_workbook
from tests.conftest import JSON, post_file

PATHS = ["original", "refactored"]


def _stage(client, path, workbook):
    response = post_file(client, f"/upload_staged_{path}", workbook.data)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["staged_filename"]


def _misc(db, id_incidence):
    with db.session() as s:
        row = s.get(Incidence, id_incidence)
        return None if row is None else row.misc_json


@pytest.mark.parametrize("path", PATHS)
def test_staging_writes_a_reviewable_file_and_leaves_the_incidence_alone(client, db, portal, path):
    apply_merge(db, 4001, {"id_incidence": 4001, "facility_name": "Before"}, sector="Energy", user="staff", comments=None, now=utcnow())
    workbook = generate_workbook("energy_v01_00", seed=1, id_incidence=4001)
    name = _stage(client, path, workbook)
    assert name.startswith("id_4001_ts_") and name.endswith(".json")
    document = json.loads((portal.files.staging / name).read_text())
    assert document["base_misc_json"] == {"id_incidence": 4001, "facility_name": "Before"}
    assert document["payload"]["facility_name"] == workbook.expected["facility_name"]
    assert document["ingest_path"] == path
    assert _misc(db, 4001) == {"id_incidence": 4001, "facility_name": "Before"}
    with db.session() as s:
        assert s.execute(select(UploadedFile.status)).scalar_one() == "staged"


@pytest.mark.parametrize("stage_path", PATHS)
def test_review_shows_old_and_new_and_offers_changed_non_empty_fields(client, db, stage_path):
    apply_merge(db, 4002, {"id_incidence": 4002, "sector": "Energy", "contact_name": "Same", "facility_name": "Old"},
                sector="Energy", user="staff", comments=None, now=utcnow())
    workbook = generate_workbook("energy_v01_00", "bad", seed=2, id_incidence=4002,
                                 values={"contact_name": "Same", "facility_name": "New"})
    name = _stage(client, stage_path, workbook)
    review = client.get(f"/review_staged/4002/{name}", headers=JSON).get_json()
    rows = {r["key"]: r for r in review["fields"]}
    assert rows["facility_name"] == {"key": "facility_name", "old": "Old", "new": "New", "changed": True, "confirmable": True}
    assert rows["contact_name"]["changed"] is False and rows["contact_name"]["confirmable"] is False
    assert rows["lat_carb"]["new"] is None and rows["lat_carb"]["confirmable"] is False
    assert review["stale"] is False
    page = client.get(f"/review_staged/4002/{name}")
    assert page.status_code == 200
    assert b'name="confirm" value="facility_name"' in page.data
    assert b'value="contact_name"' not in page.data


@pytest.mark.parametrize("stage_path", PATHS)
def test_confirm_applies_only_the_confirmed_fields_and_logs_them(client, db, portal, stage_path):
    apply_merge(db, 4003, {"id_incidence": 4003, "facility_name": "Old", "contact_name": "Old Contact"},
                sector="Energy", user="staff", comments=None, now=utcnow())
    workbook = generate_workbook("energy_v01_00", seed=3, id_incidence=4003)
    name = _stage(client, stage_path, workbook)
    response = client.post(f"/confirm_staged/4003/{name}", json={"confirm": ["facility_name"]}, headers=JSON)
    assert response.status_code == 200 and response.get_json()["applied"] == ["facility_name"]
    stored = _misc(db, 4003)
    assert stored["facility_name"] == workbook.expected["facility_name"]
    assert stored["contact_name"] == "Old Contact"
    with db.session() as s:
        logged = s.execute(select(PortalUpdate.key).where(PortalUpdate.comments.like("confirmed%"))).scalars().all()
        assert logged == ["facility_name"]
        assert s.execute(select(UploadedFile.status)).scalar_one() == "confirmed"
    assert not (portal.files.staging / name).exists()
    assert (portal.files.processed / name).exists()


def test_confirming_a_new_incidence_through_the_html_form_creates_it(client, db):
    workbook = generate_workbook("generic_v01_00", seed=4, id_incidence=4004)
    name = _stage(client, "refactored", workbook)
    response = client.post(f"/confirm_staged/4004/{name}", data={"confirm": ["facility_name", "contact_email"]})
    assert response.status_code == 303 and response.headers["Location"].endswith("/incidence_update/4004")
    stored = _misc(db, 4004)
    assert stored == {"id_incidence": 4004, "facility_name": workbook.expected["facility_name"],
                      "contact_email": workbook.expected["contact_email"]}
    assert b"Confirmed 2 field(s)" in client.get("/incidence_update/4004").data


@pytest.mark.parametrize("stage_path", PATHS)
def test_confirm_is_refused_when_the_incidence_changed_since_staging(client, db, portal, stage_path):
    apply_merge(db, 4005, {"id_incidence": 4005, "facility_name": "Old"}, sector="Energy", user="staff", comments=None, now=utcnow())
    workbook = generate_workbook("energy_v01_00", seed=5, id_incidence=4005)
    name = _stage(client, stage_path, workbook)
    apply_merge(db, 4005, {"contact_name": "Changed meanwhile"}, sector="Energy", user="other", comments=None, now=utcnow())
    before = _misc(db, 4005)
    response = client.post(f"/confirm_staged/4005/{name}", json={"confirm": ["facility_name"]}, headers=JSON)
    assert response.status_code == 409
    assert response.get_json()["error_type"] == "conflict"
    assert "changed by someone else" in response.get_json()["error_message"]
    assert _misc(db, 4005) == before
    assert (portal.files.staging / name).exists()
    page = client.post(f"/confirm_staged/4005/{name}", data={"confirm": ["facility_name"]})
    assert page.status_code == 409 and b"changed by someone else" in page.data


def test_two_confirms_staged_from_the_same_base_the_second_is_a_conflict(client, db):
    apply_merge(db, 4006, {"id_incidence": 4006}, sector="Energy", user="staff", comments=None, now=utcnow())
    first = _stage(client, "original", generate_workbook("energy_v01_00", seed=6, id_incidence=4006))
    second = _stage(client, "refactored", generate_workbook("energy_v01_00", seed=7, id_incidence=4006))
    assert client.post(f"/confirm_staged/4006/{first}", json={"confirm": ["facility_name"]}, headers=JSON).status_code == 200
    assert client.post(f"/confirm_staged/4006/{second}", json={"confirm": ["facility_name"]}, headers=JSON).status_code == 409


def test_confirming_a_field_the_review_does_not_offer_is_refused(client, db):
    workbook = generate_workbook("energy_v01_00", "bad", seed=8, id_incidence=4007)
    name = _stage(client, "refactored", workbook)
    response = client.post(f"/confirm_staged/4007/{name}", json={"confirm": ["lat_carb", "no_such_field"]}, headers=JSON)
    assert response.status_code == 422 and "lat_carb" in response.get_json()["error_message"]
    bad_body = client.post(f"/confirm_staged/4007/{name}", json={"confirm": "facility_name"}, headers=JSON)
    assert bad_body.status_code == 400  # a wrong shape (tests/web/test_json_bodies.py)
    assert _misc(db, 4007) is None


def test_discard_deletes_the_staged_file_and_marks_the_upload(client, db, portal):
    name = _stage(client, "original", generate_workbook("landfill_v01_01", seed=9, id_incidence=4008))
    response = client.post(f"/discard_staged_update/4008/{name}", headers=JSON)
    assert response.status_code == 200
    assert not (portal.files.staging / name).exists()
    with db.session() as s:
        assert s.execute(select(UploadedFile.status)).scalar_one() == "discarded"
    assert client.post(f"/discard_staged_update/4008/{name}", headers=JSON).status_code == 404
    assert client.post(f"/confirm_staged/4008/{name}", json={"confirm": []}, headers=JSON).status_code == 404
    html = client.post(f"/discard_staged_update/4008/{name}")
    assert html.status_code == 404


def test_list_is_newest_first_with_malformed_files_apart(client, portal):
    older = _stage(client, "original", generate_workbook("energy_v01_00", seed=10, id_incidence=4009))
    newer = _stage(client, "refactored", generate_workbook("energy_v01_00", seed=11, id_incidence=4010))
    (portal.files.staging / "id_1_ts_20250101_000000_000000.json").write_text("{not json")
    (portal.files.staging / "notes.txt").write_text("stray")
    listing = client.get("/list_staged", headers=JSON).get_json()
    assert [s["filename"] for s in listing["staged"]] == [newer, older]
    assert sorted(m["filename"] for m in listing["malformed"]) == ["id_1_ts_20250101_000000_000000.json", "notes.txt"]
    page = client.get("/list_staged")
    assert page.status_code == 200 and b"cannot be read" in page.data and newer.encode() in page.data
    assert client.get("/review_staged/1/id_1_ts_20250101_000000_000000.json", headers=JSON).status_code == 422


@pytest.mark.parametrize("bad_name", ["..%2F..%2Fportal.db", "id_5_ts_x.json", "id_6_ts_20250101_000000_000000.json"])
def test_review_of_a_name_that_is_not_a_staged_upload_of_that_incidence_is_404(client, bad_name):
    assert client.get(f"/review_staged/5/{bad_name}", headers=JSON).status_code == 404
    assert client.get(f"/review_staged/5/{bad_name}").status_code == 404
