"""Parse warnings a CARB reviewer can read, on the result, review and incidence pages, from
either path, and kept on the upload's record so the incidence page shows them later."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.ingest.field_warnings import FieldWarning, describe, from_record
from app.ingest.models import UploadedFile
from app.workbook.generator import generate_workbook
from loadtests.multipart import encode_multipart
from tests.conftest import JSON, post_file

PATHS = ["original", "refactored"]
# "bad" puts text in number and date fields: "n/a" in the plume id (oil and gas, seed 3)
BAD = generate_workbook("oil_and_gas_v01_00", "bad", seed=3, id_incidence=7301)
PLUME = "“2. Plume ID(s)” (id_plume): the form has “n/a” in cell D33, which is not a whole number"


def _page(client, url, workbook, **form):
    body, content_type = encode_multipart(workbook.data, "bad-values.xlsx", **form)
    return client.post(url, data=body, content_type=content_type, follow_redirects=True)


def _recorded(db):
    with db.session() as s:
        return [from_record(w) for w in s.execute(select(UploadedFile.warnings).order_by(UploadedFile.id)).scalars()]


@pytest.mark.parametrize("path", PATHS)
def test_a_direct_upload_result_names_field_cell_typed_value_and_what_was_stored(client, db, path):
    page = _page(client, f"/upload_{path}", BAD)
    assert page.status_code == 200 and page.request.path == "/incidence_update/7301"
    text = page.get_data(as_text=True)
    assert "could not be taken as typed; they are listed below" in text
    assert PLUME + ", so the field was saved empty." in text
    assert "cell D34" in text and "2025-June-15ish" in text
    [warnings] = _recorded(db)
    assert {w.field for w in warnings} >= {"id_plume", "observation_timestamp", "lat_carb"}
    assert warnings[0] == FieldWarning("id_plume", "cast", "D33", "n/a", "int", "D33: not a whole number: 'n/a'; stored as empty")


@pytest.mark.parametrize("path", PATHS)
def test_the_incidence_page_shows_the_warnings_later(client, db, path):
    _page(client, f"/upload_{path}", BAD)
    later = client.get("/incidence_update/7301").get_data(as_text=True)
    assert "Upload #1 (bad-values.xlsx" in later and PLUME in later
    clean = generate_workbook("oil_and_gas_v01_00", seed=4, id_incidence=7301)
    assert post_file(client, f"/upload_{path}", clean.data).status_code == 200
    assert _recorded(db)[1] == ()  # a clean upload records none, and the older warnings stay listed
    assert PLUME in client.get("/incidence_update/7301").get_data(as_text=True)


@pytest.mark.parametrize("path", PATHS)
def test_the_review_page_shows_the_staged_uploads_warnings(client, path):
    page = _page(client, f"/upload_staged_{path}", BAD)
    assert page.status_code == 200 and page.request.path.startswith("/review_staged/7301/")
    text = page.get_data(as_text=True)
    assert PLUME + ", so this upload leaves the field empty and it cannot be confirmed." in text
    review = client.get(page.request.path, headers=JSON).get_json()
    assert review["warnings"][0]["cell"] == "D33"


def test_the_json_answer_keeps_its_warning_texts_and_adds_the_details(client):
    body = post_file(client, "/upload_refactored", BAD.data).get_json()
    assert body["warnings"][0] == "id_plume: D33: not a whole number: 'n/a'; stored as empty"
    assert body["warning_details"][0]["typed"] == "n/a"


def test_a_failed_upload_page_shows_its_warnings_too(client):
    bad_id = generate_workbook("oil_and_gas_v01_00", "bad", seed=3, id_incidence=7302, values={"id_incidence": "x7"})
    page = _page(client, "/upload_refactored", bad_id)
    assert page.status_code == 422
    text = page.get_data(as_text=True)
    assert "Also, these values could not be taken as typed" in text and "which is not a whole number, so it could not be read." in text


@pytest.mark.parametrize("kind, typed, expected, phrase", [
    ("cut", "40000", None, "is 40000 characters long; only the first 32,767"),
    ("label", "Your name please", None, "cell C5 reads “Your name please” instead of the form's question"),
    ("cast", "soon", "datetime", "not a date and time such as 01/31/2025 14:30"),
    ("other", None, None, "x: something odd"),
])
def test_each_kind_of_warning_reads_as_a_sentence(kind, typed, expected, phrase):
    warning = FieldWarning("x", kind, "C5", typed, expected, "something odd")
    assert phrase in describe(warning, None)


def test_a_damaged_warnings_record_reads_as_none_or_plain_messages():
    assert from_record("not a list") == () and from_record(None) == ()
    [w] = from_record([{"message": "odd"}, 3])
    assert (w.field, w.message) == ("?", "odd")
    assert len(from_record([{"typed": "y" * 500}])[0].typed) == 200
