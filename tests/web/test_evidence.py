"""Every upload record carries the A/B evidence: how long the portal took, the sector,
and why the router chose the path, written by the update that settles the record."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import event, select

from app import create_app
from app.compose import services_of
from app.ingest.models import UploadedFile
from app.workbook import hostile
from app.workbook.generator import generate_workbook
from tests.conftest import JSON, make_settings, post_file


def _records(db) -> list[UploadedFile]:
    with db.session() as s:
        return list(s.execute(select(UploadedFile).order_by(UploadedFile.id)).scalars())


@pytest.mark.parametrize("path", ["original", "refactored"])
@pytest.mark.parametrize("route", ["upload", "upload_staged"])
def test_a_successful_upload_records_its_duration_sector_and_pinned_reason(client, db, path, route):
    workbook = generate_workbook("landfill_v01_00", seed=21)
    started = time.perf_counter()
    response = post_file(client, f"/{route}_{path}", workbook.data)
    took = time.perf_counter() - started
    assert response.status_code in (200, 201)
    [record] = _records(db)
    assert record.status == ("processed" if route == "upload" else "staged")
    assert 0 < record.duration_seconds <= took
    assert record.sector == response.get_json()["sector"] and record.sector
    assert record.decision_reason == "pinned"


@pytest.mark.parametrize("path", ["original", "refactored"])
def test_a_failed_upload_records_its_duration(client, db, path):
    response = post_file(client, f"/upload_{path}", hostile.with_id(0))
    assert response.status_code == 422
    [record] = _records(db)
    assert record.status == "failed" and record.duration_seconds > 0


@pytest.mark.parametrize("url", ["/upload", "/upload_staged_refactored"])
def test_a_rejected_upload_records_its_duration_and_reason(client, db, url):
    assert client.post(url, data={"comments": "no file"}, headers=JSON).status_code == 400
    [record] = _records(db)
    assert record.status == "rejected" and record.duration_seconds >= 0
    assert record.decision_reason == ("off" if url == "/upload" else "pinned")


def test_a_too_large_upload_records_its_duration(tmp_path, sqlite_url):
    app = create_app(settings=make_settings(tmp_path, sqlite_url, max_upload_bytes=50_000))
    response = post_file(app.test_client(), "/upload", b"\0" * 60_000)
    assert response.status_code == 413
    [record] = _records(services_of(app).db)
    assert record.status == "rejected" and record.duration_seconds is not None
    services_of(app).db.dispose()


def test_a_routed_upload_records_the_routers_reason(client, db, portal):
    portal.flags.set_percent("refactored_upload", 100, actor="test")
    portal.flags.reload()
    response = post_file(client, "/upload", generate_workbook("energy_v01_00", seed=22).data)
    assert response.headers["X-Ingest-Path"] == "refactored"
    [record] = _records(db)
    assert (record.ingest_path, record.decision_reason) == ("refactored", "percentage")


def test_confirming_a_staged_upload_keeps_its_duration(client, db):
    workbook = generate_workbook("energy_v01_00", seed=23)
    body = post_file(client, "/upload_staged_refactored", workbook.data).get_json()
    [staged] = _records(db)
    url = f"/review_staged/{body['id_incidence']}/{body['staged_filename']}"
    offered = [f["key"] for f in client.get(url, headers=JSON).get_json()["fields"] if f["confirmable"]]
    response = client.post(f"/confirm_staged/{body['id_incidence']}/{body['staged_filename']}",
                           json={"confirm": offered}, headers=JSON)
    assert response.status_code == 200 and offered
    [after] = _records(db)
    assert after.status == "confirmed"
    assert (after.duration_seconds, after.sector) == (staged.duration_seconds, staged.sector)


@pytest.mark.parametrize("path", ["original", "refactored"])
@pytest.mark.parametrize("route", ["upload", "upload_staged"])
def test_the_evidence_costs_no_extra_write(client, portal, path, route):
    statements = []
    listener = lambda conn, cursor, statement, *args: statements.append(statement)  # noqa: E731
    event.listen(portal.db.engine, "before_cursor_execute", listener)
    try:
        response = post_file(client, f"/{route}_{path}", generate_workbook("energy_v01_00", seed=24).data)
    finally:
        event.remove(portal.db.engine, "before_cursor_execute", listener)
    assert response.status_code in (200, 201)
    on_record = [s.split()[0].upper() for s in statements if "uploaded_files" in s]
    assert on_record == ["INSERT", "UPDATE"]  # recorded once, settled (with its evidence) once
