"""/uploads: the retry button on an interrupted upload (a form with the CSRF token), the
status filter offering every status (`file_missing` too), and the 503s of the staged
review and the retry that name no server (issue 14's leftovers, issue 17)."""

from __future__ import annotations

import re

import pytest

from app.ingest import intake, original, refactored
from app.ingest.context import IngestContext
from app.ingest.database import Database, DatabaseTimeouts
from app.ingest.models import utcnow
from app.ingest.outcome import Upload
from app.ingest.persistence import record_upload
from app.ingest.reconcile import reconcile
from app.web.recent_uploads import STATUSES
from app.workbook.generator import generate_workbook
from tests.conftest import JSON, make_settings
from tests.csrf import raw_client

DOWN = "postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2"


def _interrupted(portal, path, seed=21):
    """An upload kept while the database was down, recorded `interrupted` by the reconciler."""
    down = Database(DOWN, DatabaseTimeouts(statement=1, connect=2))
    workbook = generate_workbook("energy_v01_00", seed=seed, id_incidence=1004000 + seed)
    path.process(IngestContext(down, portal.files), Upload(workbook.data, "late.xlsx", "dana"), "staged")
    down.dispose()
    return reconcile(portal.ingest, older_than=0).journals_recorded[0]


def _record(db, status, description=None):
    return record_upload(db, filename=f"{status}.xlsx", saved_name=None, route="direct", ingest_path="refactored",
                         user="dana", size=10, sha256=None, status=status, description=description, now=utcnow())


def _row(page: str, upload_id: int) -> str:
    row = re.search(rf"<tr>\s*<td>{upload_id}</td>.*?</tr>", page, re.S)
    assert row, page
    return row.group(0)


def _retry_forms(html: str) -> list[tuple[str, str]]:
    return re.findall(r'<form class="retry" method="post" action="(/retry_upload/\d+)">'
                      r'<input type="hidden" name="csrf_token" value="([^"]+)">', html)


@pytest.mark.parametrize("path", [original, refactored], ids=["original", "refactored"])
def test_an_interrupted_upload_has_a_retry_button_that_retries_it_once(app, portal, db, path):
    upload_id = _interrupted(portal, path)
    done = _record(db, intake.FAILED, "the form is not a workbook")
    browser = raw_client(app)
    page = browser.get("/uploads").get_data(as_text=True)
    assert "interrupted" in _row(page, upload_id) and _retry_forms(_row(page, upload_id))
    assert not _retry_forms(_row(page, done))  # failed: processed already, no button
    (action, token), = _retry_forms(page)
    assert action == f"/retry_upload/{upload_id}"

    assert browser.post(action, headers={"Referer": "http://localhost/uploads"}).status_code == 400  # no token
    assert "interrupted" in _row(browser.get("/uploads").get_data(as_text=True), upload_id)

    answer = browser.post(action, data={"csrf_token": token}, headers={"Referer": "http://localhost/uploads"})
    assert answer.status_code == 303 and "/review_staged/" in answer.headers["Location"]
    assert "processed again and staged for review" in browser.get(answer.headers["Location"]).get_data(as_text=True)
    after = browser.get("/uploads").get_data(as_text=True)
    assert '<span class="status staged">staged</span>' in _row(after, upload_id) and not _retry_forms(after)

    again = browser.post(action, data={"csrf_token": token}, headers={"Referer": "http://localhost/uploads"})
    assert again.status_code == 303 and again.headers["Location"].endswith("/uploads")
    assert f"Upload {upload_id} needs no retry: it is staged." in browser.get("/uploads").get_data(as_text=True)
    assert len(list(portal.files.staging.iterdir())) == 1


@pytest.mark.parametrize("status", [intake.FILE_MISSING, intake.REJECTED])
def test_retrying_an_upload_with_nothing_to_process_is_a_409_with_the_reason(client, portal, db, status):
    upload_id = _record(db, status, "nothing to process")
    page = client.post(f"/retry_upload/{upload_id}")
    assert page.status_code == 409
    assert f"upload {upload_id} cannot be retried: it is {status}" in page.get_data(as_text=True)
    assert client.post(f"/retry_upload/{upload_id}", headers=JSON).get_json()["ok"] is False
    assert client.post("/retry_upload/987654").status_code == 404


def test_the_status_filter_offers_every_status_file_missing_too(client, portal, db):
    assert set(STATUSES) == {v for k, v in vars(intake).items() if k.isupper() and isinstance(v, str)
                             and k not in ("OPEN_STATUSES",)} and intake.FILE_MISSING in STATUSES
    gone = _record(db, intake.FILE_MISSING, "the reconciler found its file gone")
    _record(db, intake.RECEIVED)
    page = client.get("/uploads").get_data(as_text=True)
    select = re.search(r'<select name="status">(.*?)</select>', page, re.S).group(1)
    assert re.findall(r"<option(?: selected)?>([a-z_]+)</option>", select) == list(STATUSES)
    listed = client.get("/uploads?status=file_missing", headers=JSON).get_json()["uploads"]
    assert [(u["id"], u["status"]) for u in listed] == [(gone, "file_missing")]
    assert "<option selected>file_missing</option>" in client.get("/uploads?status=file_missing").get_data(as_text=True)
    assert client.get("/uploads?status=lost").status_code == 400


def test_the_staged_review_and_the_retry_answer_a_plain_503_when_the_database_is_down(tmp_path, app, client, caplog):
    workbook = generate_workbook("landfill_v01_00", seed=3)
    from tests.conftest import post_file

    staged = post_file(client, "/upload_staged_refactored", workbook.data).get_json()
    down_app = __import__("app").create_app(settings=make_settings(tmp_path, DOWN))
    down = down_app.test_client()
    review = f"/review_staged/{staged['id_incidence']}/{staged['staged_filename']}"
    confirm = f"/confirm_staged/{staged['id_incidence']}/{staged['staged_filename']}"
    answers = {"review": down.get(review), "confirm": down.post(confirm, data={"confirm": "facility_name"}),
               "retry": down.post("/retry_upload/1"), "retry json": down.post("/retry_upload/1", headers=JSON)}
    for what, answer in answers.items():
        text = answer.get_data(as_text=True)
        assert answer.status_code == 503, (what, text)
        assert "the database is unavailable" in text and "127.0.0.1" not in text and "5432" not in text
        assert ":1" not in re.sub(r"<[^>]+>", "", text).replace("1:", ""), (what, text)
    assert "nothing was retried" in answers["retry json"].get_json()["error_message"]
    assert "127.0.0.1" in caplog.text  # the detail is in the log
