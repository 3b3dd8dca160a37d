"""Bad uploads: a clear message and a fitting 4xx, never a 500 or a hang; the file kept
and recorded as failed; incidences and portal_updates untouched."""

from __future__ import annotations

import io
import time

import pytest
from sqlalchemy import func, select

from app.compose import services_of
from app.ingest.models import Incidence, PortalUpdate, UploadedFile
from app.workbook import hostile
from app.workbook.generator import generate_workbook
from tests.conftest import JSON, post_file

# (builder, refactored status, refactored error_type, refactored error_code); the original
# path answers every unreadable file 422 missing_id (see app/ingest/parity.py).
BAD_FILES = [
    ("empty", lambda: b"", 400, "file_error", "empty_file"),
    ("pdf", hostile.pdf, 415, "conversion_failed", "not_a_workbook"),
    ("csv", hostile.csv, 415, "conversion_failed", "not_a_workbook"),
    ("renamed binary", hostile.random_binary, 415, "conversion_failed", "not_a_workbook"),
    ("old xls", hostile.legacy_xls, 415, "conversion_failed", "legacy_or_encrypted"),
    ("truncated zip", hostile.truncated, 422, "conversion_failed", "corrupt_workbook"),
    ("corrupt zip", hostile.corrupt_zip, 422, "conversion_failed", "corrupt_workbook"),
    ("zip bomb", hostile.zip_bomb, 422, "conversion_failed", "zip_bomb"),
    ("lying zip bomb", hostile.lying_zip_bomb, 422, "conversion_failed", "zip_bomb"),
    ("xml entity bomb", hostile.entity_bomb, 422, "conversion_failed", "xml_entities"),
    ("million rows", hostile.million_rows, 422, "conversion_failed", "too_many_cells"),
    ("far away cell", hostile.far_away_cell, 422, "conversion_failed", "too_many_cells"),
    ("no schema sheet", hostile.without_schema_sheet, 422, "conversion_failed", "no_schema_sheet"),
    ("unknown schema", hostile.unknown_schema, 422, "conversion_failed", "unknown_schema"),
    ("blank id", lambda: generate_workbook("energy_v01_00", "blank_id", seed=1).data, 422, "missing_id", "missing_id"),
    ("id zero", lambda: hostile.with_id(0), 422, "validation_error", "invalid_id"),
    ("id negative", lambda: hostile.with_id(-5), 422, "validation_error", "invalid_id"),
    ("id text", lambda: hostile.with_id("INC-12"), 422, "validation_error", "invalid_id"),
    ("id float", lambda: hostile.with_id(12.5), 422, "validation_error", "invalid_id"),
    ("id decimal text", lambda: hostile.with_id("12.0"), 422, "validation_error", "invalid_id"),
]


def _counts(db):
    with db.session() as s:
        return (s.scalar(select(func.count()).select_from(Incidence)),
                s.scalar(select(func.count()).select_from(PortalUpdate)))


@pytest.mark.parametrize("route", ["upload", "upload_staged"])
@pytest.mark.parametrize("path", ["original", "refactored"])
@pytest.mark.parametrize("name, build, status, error_type, code", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_a_bad_upload_is_refused_clearly_kept_and_recorded(client, db, portal, path, route, name, build, status, error_type, code):
    data = build()
    started = time.perf_counter()
    response = post_file(client, f"/{route}_{path}", data, filename=f"{name}.xlsx")
    assert time.perf_counter() - started < 10
    body = response.get_json()
    assert body["ok"] is False and body["error_message"]
    if path == "refactored":
        assert (response.status_code, body["error_type"], body["error_code"]) == (status, error_type, code)
    elif code == "empty_file" or code.startswith(("not_a", "legacy", "corrupt", "zip", "xml", "too_many", "no_schema", "unknown", "missing", "invalid")):
        assert (response.status_code, body["error_type"]) == (422, "missing_id")
    assert _counts(db) == (0, 0)
    with db.session() as s:
        [record] = s.execute(select(UploadedFile)).scalars().all()
    assert record.status == "failed" and record.error_type == body["error_type"] and record.description
    assert (portal.files.root / record.path).read_bytes() == data
    assert not list(portal.files.staging.iterdir())


@pytest.mark.parametrize("path", ["original", "refactored"])
def test_a_bad_upload_page_tells_the_user_in_html(client, path):
    response = client.post(f"/upload_{path}", data={"file": (io.BytesIO(hostile.pdf()), "report.pdf")})
    assert response.status_code in (415, 422)
    assert b"The upload was not accepted" in response.data
    assert b"Your file was kept" in response.data


@pytest.mark.parametrize("url", ["/upload_original", "/upload_refactored", "/upload", "/upload_staged"])
def test_no_file_field_is_a_400_and_is_recorded(client, db, url):
    response = client.post(url, data={"comments": "forgot the file"}, headers=JSON)
    assert response.status_code == 400
    assert response.get_json()["error_type"] == "file_error"
    assert "no file" in response.get_json()["error_message"]
    with db.session() as s:
        record = s.execute(select(UploadedFile)).scalar_one()
    assert record.status == "rejected" and record.path is None
    html = client.post(url, data={})
    assert html.status_code == 400 and b"no file was sent" in html.data


class _CountingStream(io.RawIOBase):
    """A request body of `size` bytes that counts how much the server read."""

    def __init__(self, size: int) -> None:
        self.size, self.position, self.read_bytes = size, 0, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = 0) -> int:
        self.position = {0: offset, 1: self.position + offset, 2: self.size + offset}[whence]
        return self.position

    def readinto(self, buffer) -> int:
        n = max(0, min(len(buffer), self.size - self.position))
        buffer[:n] = b"\0" * n
        self.position += n
        self.read_bytes += n
        return n


@pytest.mark.parametrize("url", ["/upload_refactored", "/upload_staged_original", "/upload"])
def test_a_100_mb_upload_is_refused_413_before_it_is_read(client, db, url):
    size = 100 * 1024 * 1024
    stream = _CountingStream(size)
    boundary = "b0undary"
    response = client.post(url, input_stream=stream,
                           content_type=f"multipart/form-data; boundary={boundary}", headers=JSON)
    assert response.status_code == 413
    assert "upload limit" in response.get_json()["error_message"]
    assert stream.read_bytes < 1024 * 1024
    with db.session() as s:
        record = s.execute(select(UploadedFile)).scalar_one()
    assert record.status == "rejected" and record.error_type == "file_error"


@pytest.mark.parametrize("filename", [
    "../../../etc/cron.d/evil.xlsx", "..\\..\\windows\\system32\\x.xlsx", "/abs/path.xlsx", "..", "",
    "Ünïcødé 报告 ✓.xlsx", "a" * 300 + ".xlsx", "con.xlsx", "name with\nnewline.xlsx", "\x00nul.xlsx",
])
def test_odd_filenames_are_stored_under_safe_names(client, db, portal, filename):
    workbook = generate_workbook("energy_v01_00", seed=3)
    response = post_file(client, "/upload_refactored", workbook.data, filename=filename)
    assert response.status_code == 200, response.get_json()
    with db.session() as s:
        record = s.execute(select(UploadedFile)).scalar_one()
    stored = portal.files.root / record.path
    assert stored.parent == portal.files.root and stored.read_bytes() == workbook.data
    assert len(record.path) < 140 and record.path.isascii() and "/" not in record.path and "\\" not in record.path
    assert not record.path.startswith(".")


def test_huge_text_in_a_cell_is_cut_to_excels_limit_with_a_warning(client, db):
    body = post_file(client, "/upload_refactored", hostile.huge_text()).get_json()
    assert body["ok"]
    assert any("additional_notes" in w and "32767" in w for w in body["warnings"])
    with db.session() as s:
        assert len(s.get(Incidence, body["id_incidence"]).misc_json["additional_notes"]) == 32767


def test_control_characters_in_comments_do_not_break_the_audit_trail(client, db):
    workbook = generate_workbook("energy_v01_00", seed=6)
    response = post_file(client, "/upload_original", workbook.data, comments="late\x00 night\x07 upload")
    assert response.status_code == 200
    with db.session() as s:
        comments = set(s.execute(select(PortalUpdate.comments)).scalars())
    assert comments == {"late night upload"}


def test_the_configured_limits_apply_to_uploads(tmp_path, sqlite_url):
    from app import create_app
    from tests.conftest import make_settings

    app = create_app(settings=make_settings(tmp_path, sqlite_url, max_cells=60, max_upload_bytes=50_000))
    client = app.test_client()
    workbook = generate_workbook("energy_v01_00", seed=7)
    body = post_file(client, "/upload_refactored", workbook.data).get_json()
    assert (body["error_type"], body["error_code"]) == ("conversion_failed", "too_many_cells")
    big = post_file(client, "/upload_refactored", workbook.data + b"\0" * 60_000)
    assert big.status_code == 413
    services_of(app).db.dispose()


@pytest.mark.parametrize("path", ["original", "refactored"])
def test_a_broken_upload_folder_is_a_503_not_a_500(client, portal, path):
    import shutil

    shutil.rmtree(portal.files.root)
    portal.files.root.write_text("not a folder")  # the disk refuses every write there
    body = post_file(client, f"/upload_{path}", generate_workbook("energy_v01_00", seed=8).data)
    assert body.status_code == 503
    assert (body.get_json()["error_type"], body.get_json()["error_code"]) == ("storage_error", "save_failed")  # the portal's disk: server-side


def test_a_broken_json_or_staging_folder_fails_cleanly_and_is_recorded(client, db, portal):
    import shutil

    shutil.rmtree(portal.files.json_dir)
    portal.files.json_dir.write_text("not a folder")
    original = post_file(client, "/upload_original", generate_workbook("energy_v01_00", seed=9).data)
    assert original.status_code == 503 and original.get_json()["error_type"] == "storage_error"
    assert post_file(client, "/upload_refactored", generate_workbook("energy_v01_00", seed=9).data).status_code == 200
    shutil.rmtree(portal.files.staging)
    portal.files.staging.write_text("not a folder")
    staged = post_file(client, "/upload_staged_refactored", generate_workbook("energy_v01_00", seed=10).data)
    assert staged.status_code == 503 and staged.get_json()["error_code"] == "staging_failed"
    with db.session() as s:
        statuses = [r.status for r in s.execute(select(UploadedFile).order_by(UploadedFile.id)).scalars()]
    assert statuses == ["failed", "processed", "failed"]
