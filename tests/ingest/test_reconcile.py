"""The reconciler and the retry: every kept file ends with exactly one record, no record
stays `received`, and a retried upload is applied at most once."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from app.ingest import intake, refactored, original
from app.ingest.context import IngestContext
from app.ingest.database import Database, DatabaseTimeouts
from app.ingest.errors import NotRetryable
from app.ingest.files import FileStore
from app.ingest.implementations import IMPLEMENTATIONS
from app.ingest.models import PortalUpdate, UploadedFile
from app.ingest.outcome import Upload
from app.ingest.persistence import record_upload
from app.ingest.reconcile import reconcile, retry
from app.workbook.generator import generate_workbook

DOWN = "postgresql+psycopg://postgres@127.0.0.1:1/none"


@pytest.fixture
def ctx(tmp_path, database_url):
    files = FileStore(tmp_path / "uploads")
    files.ensure()
    db = Database(database_url)
    yield IngestContext(db, files)
    db.dispose()


@pytest.fixture
def ctx_db_down(ctx):
    db = Database(DOWN, DatabaseTimeouts(statement=1, connect=2))
    yield IngestContext(db, ctx.files)
    db.dispose()


def _rows(ctx):
    with ctx.db.session() as s:
        return s.scalars(select(UploadedFile).order_by(UploadedFile.id)).all()


def _updates(ctx, id_incidence):
    with ctx.db.session() as s:
        return s.scalar(select(func.count()).select_from(PortalUpdate).where(PortalUpdate.id_incidence == id_incidence))


@pytest.mark.parametrize("path", [original, refactored])
def test_a_file_kept_while_the_database_was_down_is_recorded_interrupted_then_retried_once(ctx, ctx_db_down, path):
    workbook = generate_workbook("oil_and_gas_v01_00", seed=7, id_incidence=1003001)
    outcome = path.process(ctx_db_down, Upload(workbook.data, "down.xlsx", "dana"), "direct")
    assert not outcome.success and outcome.error_type == "database_error"
    kept = list(ctx.files.root.glob("down_ts_*.xlsx"))
    assert len(kept) == 1 and list(ctx.files.journal.glob("*.json"))
    assert _rows(ctx) == []

    report = reconcile(ctx, older_than=0)
    rows = _rows(ctx)
    assert [r.status for r in rows] == ["interrupted"] and rows[0].path == kept[0].name
    assert report.journals_recorded == (rows[0].id,) and report.interrupted_now == 1
    assert not list(ctx.files.journal.glob("*.json"))
    assert reconcile(ctx, older_than=0).journals_recorded == ()  # a second pass records nothing again

    first = retry(ctx, rows[0].id, IMPLEMENTATIONS)
    assert first.outcome is not None and first.outcome.success and first.outcome.upload_id == rows[0].id
    changes = _updates(ctx, 1003001)
    assert changes > 0 and [r.status for r in _rows(ctx)] == ["processed"]
    again = retry(ctx, rows[0].id, IMPLEMENTATIONS)
    assert again.already == "processed" and _updates(ctx, 1003001) == changes  # applied at most once
    assert len(_rows(ctx)) == 1


def test_a_stale_received_upload_is_interrupted_and_a_fresh_one_is_not(ctx):
    old = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=10)
    for name, when in (("old.xlsx", old), ("new.xlsx", dt.datetime.now(dt.timezone.utc))):
        (ctx.files.root / name).write_bytes(b"x")
        record_upload(ctx.db, filename=name, saved_name=name, route="direct", ingest_path="refactored", user="u",
                      size=1, sha256=None, now=when)
    report = reconcile(ctx, older_than=300)
    assert [(r.path, r.status) for r in _rows(ctx)] == [("old.xlsx", "interrupted"), ("new.xlsx", "received")]
    assert len(report.interrupted) == 1 and report.interrupted_now == 1


def test_a_merge_never_applies_an_upload_whose_record_is_settled(ctx):
    workbook = generate_workbook("energy_v01_00", seed=8, id_incidence=1003002)
    outcome = refactored.process(ctx, Upload(workbook.data, "a.xlsx", "dana"), "direct")
    assert outcome.success
    with pytest.raises(NotRetryable):
        retry(ctx, 999_999, IMPLEMENTATIONS)
    assert retry(ctx, outcome.upload_id, IMPLEMENTATIONS).already == "processed"


def test_records_whose_files_are_gone_are_fixed(ctx):
    workbook = generate_workbook("energy_v01_00", seed=9, id_incidence=1003003)
    staged = refactored.process(ctx, Upload(workbook.data, "s.xlsx", "dana"), "staged")
    assert staged.success
    (ctx.files.staging / staged.staged_filename).unlink()  # a discard whose record update was lost
    lost = refactored.process(ctx, Upload(workbook.data, "l.xlsx", "dana"), "staged")
    (ctx.files.root / lost.saved_filename).unlink()
    report = reconcile(ctx, older_than=300)
    assert dict(report.fixed) == {staged.upload_id: "discarded", lost.upload_id: "file_missing"}


def test_a_partial_file_and_an_orphan_journal_are_cleared(ctx):
    (ctx.files.root / ".partial-deadbeef").write_bytes(b"half")
    ctx.files.journal_path("never_ts_1.xlsx").write_text('{"format": "arb-upload-journal/1"}')
    report = reconcile(ctx, older_than=0)
    assert report.partials_removed == 1 and report.journals_cleared == 1
    assert not any(ctx.files.root.glob(".partial-*")) and not any(ctx.files.journal.iterdir())


def test_a_retried_staged_upload_whose_staged_file_exists_is_not_staged_twice(ctx):
    workbook = generate_workbook("energy_v01_00", seed=10, id_incidence=1003004)
    staged = refactored.process(ctx, Upload(workbook.data, "s.xlsx", "dana"), "staged")
    intake.settle(ctx, staged.upload_id, "interrupted", "worker died before settling")
    result = retry(ctx, staged.upload_id, IMPLEMENTATIONS)
    assert result.already == "staged" and len(list(ctx.files.staging.iterdir())) == 1


def test_staff_retry_an_interrupted_upload_from_the_page_once(client, portal, db):
    from tests.conftest import JSON

    down = Database(DOWN, DatabaseTimeouts(statement=1, connect=2))
    workbook = generate_workbook("energy_v01_00", seed=11, id_incidence=1003005)
    refactored.process(IngestContext(down, portal.files), Upload(workbook.data, "p.xlsx", "dana"), "staged")
    down.dispose()
    upload_id = reconcile(portal.ingest, older_than=0).journals_recorded[0]
    first = client.post(f"/retry_upload/{upload_id}", headers=JSON).get_json()
    assert first["ok"] and first["outcome"]["ok"] and first["outcome"]["staged_filename"]
    again = client.post(f"/retry_upload/{upload_id}", headers=JSON).get_json()
    assert again["already"] == "staged" and len(list(portal.files.staging.iterdir())) == 1
    assert client.post("/retry_upload/987654", headers=JSON).status_code == 404
    page = client.post(f"/retry_upload/{upload_id}", headers={"Accept": "text/html"})
    assert page.status_code == 303
