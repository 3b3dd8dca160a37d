"""Direct uploads through both paths: merge rules, audit rows, upload records, files kept."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.compose import services_of
from app.ingest.models import Incidence, PortalUpdate, UploadedFile
from app.workbook.generator import generate_workbook
from tests.conftest import post_file

PATHS = ["original", "refactored"]


def _url(path: str) -> str:
    return f"/upload_{path}"


def _incidence(db, id_incidence):
    with db.session() as s:
        return s.get(Incidence, id_incidence)


def _updates(db, id_incidence):
    with db.session() as s:
        return s.execute(select(PortalUpdate).where(PortalUpdate.id_incidence == id_incidence).order_by(PortalUpdate.id)).scalars().all()


def _uploads(db):
    with db.session() as s:
        return s.execute(select(UploadedFile).order_by(UploadedFile.id)).scalars().all()


@pytest.mark.parametrize("path", PATHS)
def test_a_first_upload_creates_the_incidence_with_all_form_data(client, db, path):
    import datetime as dt

    workbook = generate_workbook("oil_and_gas_v01_00", seed=1, id_incidence=1002051,
                                 values={"observation_timestamp": dt.datetime(2024, 6, 25, 0, 0)})
    response = post_file(client, _url(path), workbook.data)
    assert response.status_code == 200
    body = response.get_json()
    assert body["ok"] and body["path"] == path and body["id_incidence"] == 1002051 and body["sector"] == "Oil and Gas"
    assert response.headers["X-Ingest-Path"] == path
    stored = _incidence(db, 1002051)
    assert stored.sector == "Oil and Gas"
    assert stored.misc_json["sector"] == "Oil and Gas"
    assert stored.misc_json["facility_name"] == workbook.expected["facility_name"]
    # naive form datetimes are California time, stored as UTC ISO-8601
    assert stored.misc_json["observation_timestamp"] == "2024-06-25T07:00:00+00:00"


@pytest.mark.parametrize("path", PATHS)
def test_an_upload_merges_overwriting_blanks_and_keeping_absent_keys(client, db, path, portal):
    from app.ingest.models import utcnow
    from app.ingest.persistence import apply_merge

    apply_merge(db, 555, {"id_incidence": 555, "staff_note": "keep me", "contact_name": "Old Name", "facility_name": "Old"},
                sector="Energy", user="staff", comments="seed", now=utcnow())
    workbook = generate_workbook("energy_v01_00", values={"contact_name": "", "facility_name": "New Plant"},
                                 id_incidence=555, seed=2)
    assert post_file(client, _url(path), workbook.data).status_code == 200
    stored = _incidence(db, 555).misc_json
    assert stored["staff_note"] == "keep me"          # absent from the upload: kept
    # blank in the upload overwrites: openpyxl writes "" as a cell with no value, read as null (as the legacy)
    assert stored["contact_name"] is None
    assert stored["facility_name"] == "New Plant"
    logged = {u.key: (u.old_value, u.new_value) for u in _updates(db, 555) if u.comments != "seed"}
    assert logged["contact_name"] == ("Old Name", None)
    assert logged["facility_name"] == ("Old", "New Plant")
    assert "staff_note" not in logged


@pytest.mark.parametrize("path", PATHS)
def test_no_audit_row_is_written_for_nothing_becoming_empty(client, db, path):
    workbook = generate_workbook("landfill_v01_00", "bad", seed=4, id_incidence=777)
    assert post_file(client, _url(path), workbook.data, headers={"X-Portal-User": "ignored"}).status_code == 200
    rows = _updates(db, 777)
    keys = {r.key for r in rows}
    empty_fields = {k for k, v in workbook.expected.items() if v in (None, "", "Please Select")}
    assert empty_fields and not (keys & empty_fields)
    assert "id_incidence" in keys and "sector" in keys
    user = rows[0].user
    assert user.startswith("anon-")
    # a second identical upload changes nothing and logs nothing
    assert post_file(client, _url(path), workbook.data).status_code == 200
    assert len(_updates(db, 777)) == len(rows)


@pytest.mark.parametrize("path", PATHS)
def test_every_upload_is_kept_on_disk_and_recorded(client, db, portal, path):
    workbook = generate_workbook("generic_v01_00", seed=5)
    post_file(client, _url(path), workbook.data, filename="../../etc/passwd Ünïcødé form.xlsx")
    [record] = _uploads(db)
    assert record.status == "processed" and record.ingest_path == path and record.route == "direct"
    assert record.original_filename == "../../etc/passwd Ünïcødé form.xlsx"
    assert record.id_incidence == workbook.id_incidence and record.size_bytes == len(workbook.data)
    stored = portal.files.root / record.path
    assert stored.read_bytes() == workbook.data
    assert stored.parent == portal.files.root
    assert "/" not in record.path and ".." not in record.path and record.path.isascii()


def test_the_original_path_keeps_its_json_conversion_on_disk(client, db, portal):
    workbook = generate_workbook("energy_v01_00", seed=6)
    post_file(client, "/upload_original", workbook.data)
    [record] = _uploads(db)
    converted = portal.files.json_dir / f"{record.path}.json"
    assert converted.exists() and '"tab_contents"' in converted.read_text()


def test_the_trusted_user_header_names_the_uploader(tmp_path, database_url):
    from app import create_app
    from tests.conftest import make_settings

    app = create_app(settings=make_settings(tmp_path, database_url, trust_user_header=True))
    workbook = generate_workbook("energy_v01_00", seed=7)
    post_file(app.test_client(), "/upload_refactored", workbook.data, headers={"X-Portal-User": "dana@operator.example"})
    db = services_of(app).db
    assert {u.user for u in _updates(db, workbook.id_incidence)} == {"dana@operator.example"}
    services_of(app).db.dispose()


def test_an_anonymous_browser_keeps_one_user_id_across_requests(client, db):
    first = generate_workbook("energy_v01_00", seed=8)
    second = generate_workbook("energy_v01_00", seed=9)
    post_file(client, "/upload_refactored", first.data)
    post_file(client, "/upload_refactored", second.data)
    users = {r.user for r in _uploads(db)}
    assert len(users) == 1 and users.pop().startswith("anon-")
