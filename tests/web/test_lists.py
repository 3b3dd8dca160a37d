"""/incidences and /uploads: newest first, searched and filtered, paged by cursor; times in
California local time with the zone named; anonymous users shown by a short label."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from app.ingest.models import utcnow
from app.ingest.persistence import apply_merge, record_upload
from app.web.timefmt import ca_time
from app.web.users import user_label
from app.workbook.generator import generate_workbook
from tests.conftest import JSON, post_file

T0 = dt.datetime(2026, 1, 15, 18, 0, tzinfo=dt.timezone.utc)


def _incidence(db, id_, sector, facility, minutes, user="staff"):
    apply_merge(db, id_, {"id_incidence": id_, "facility_name": facility}, sector=sector, user=user, comments=None,
                now=T0 + dt.timedelta(minutes=minutes))


def _ids(client, url):
    body = client.get(url, headers=JSON)
    assert body.status_code == 200, body.get_data(as_text=True)
    return [r["id_incidence"] for r in body.get_json()["incidences"]], body.get_json()["next"]


@pytest.fixture
def five(db):
    _incidence(db, 101, "Oil and Gas", "North Dome Well Pad", 1)
    _incidence(db, 102, "Landfill", "Sunshine Canyon Landfill", 2)
    _incidence(db, 103, "Oil and Gas", "South Dome 100%_Tank", 3)
    _incidence(db, 104, "Dairy Digester", "Hilmar Dairy", 4, user="anon-3f9c2a77d0e1b2c4")
    _incidence(db, 105, "Oil and Gas", "Kern Front", 5)


def test_incidences_are_listed_last_updated_first_and_paged(client, five, db):
    first, cursor = _ids(client, "/incidences?per_page=2")
    assert first == [105, 104] and cursor
    second, cursor = _ids(client, f"/incidences?per_page=2&after={cursor}")
    third, last = _ids(client, f"/incidences?per_page=2&after={cursor}")
    assert (second, third, last) == ([103, 102], [101], None)
    _incidence(db, 101, "Oil and Gas", "North Dome Well Pad", 9)  # updated: now the newest
    assert _ids(client, "/incidences")[0][0] == 101


@pytest.mark.parametrize("query, expected", [
    ("id=103", [103]), ("sector=Oil+and+Gas", [105, 103, 101]), ("facility=dome", [103, 101]),
    ("facility=100%25_", [103]), ("facility=DOME&sector=Oil+and+Gas&id=101", [101]), ("id=999", []),
])
def test_incidences_are_searched_by_id_sector_and_facility(client, five, query, expected):
    assert _ids(client, f"/incidences?{query}")[0] == expected


def test_the_incidence_list_page_shows_local_times_short_user_labels_and_links(client, five):
    page = client.get("/incidences?per_page=3").get_data(as_text=True)
    assert "2026-01-15 10:05 PST" in page  # 18:05 UTC in January
    assert "anonymous (3f9c2a)" in page and "anon-3f9c2a77" not in page
    assert 'href="/incidence_update/105"' in page and "Older »" in page
    assert "No incidence matches." in client.get("/incidences?id=42").get_data(as_text=True)


@pytest.mark.parametrize("query", ["id=abc", "id=-1", "after=garbage", "per_page=x"])
def test_a_bad_search_is_a_400_with_a_message(client, query):
    response = client.get(f"/incidences?{query}", headers=JSON)
    assert response.status_code == 400 and response.get_json()["error_message"]


def _upload(db, status, route="direct", path="original", error=None, minutes=0):
    return record_upload(db, filename=f"{status}.xlsx", saved_name=None, route=route, ingest_path=path, user="dana",
                         size=1, sha256=None, status=status, description=error, error_type="file_error" if error else None,
                         now=T0 + dt.timedelta(minutes=minutes))


def test_uploads_are_listed_newest_first_filtered_and_paged(client, db):
    _upload(db, "processed")
    _upload(db, "failed", error="the uploaded file is empty")
    _upload(db, "staged", route="staged", path="refactored")
    _upload(db, "interrupted", error="the worker stopped while processing it")
    _upload(db, "processed", path="refactored")

    def ids(query):
        return [u["id"] for u in client.get(f"/uploads?{query}", headers=JSON).get_json()["uploads"]]

    assert ids("") == [5, 4, 3, 2, 1]
    assert ids("status=processed") == [5, 1] and ids("route=staged") == [3] and ids("path=refactored") == [5, 3]
    assert ids("status=processed&path=original") == [1]
    body = client.get("/uploads?per_page=2", headers=JSON).get_json()
    assert [u["id"] for u in body["uploads"]] == [5, 4] and ids(f"per_page=2&after={body['next']}") == [3, 2]


def test_the_uploads_page_shows_status_error_and_interrupted_records(client, db):
    _upload(db, "failed", error="the uploaded file is empty")
    _upload(db, "interrupted", error="the worker stopped while processing it")
    page = client.get("/uploads").get_data(as_text=True)
    assert '<span class="status interrupted">interrupted</span>' in page
    assert "the worker stopped while processing it" in page and "the uploaded file is empty (file_error)" in page
    assert "2026-01-15 10:00 PST" in page
    assert "interrupted" in client.get("/uploads?status=interrupted").get_data(as_text=True)


@pytest.mark.parametrize("query", ["status=lost", "route=sideways", "path=both", "after=x"])
def test_a_bad_upload_filter_is_a_400(client, query):
    assert client.get(f"/uploads?{query}", headers=JSON).status_code == 400


def test_a_real_upload_shows_on_both_lists(client):
    workbook = generate_workbook("landfill_v01_00", seed=5, id_incidence=8801, values={"facility_name": "Puente Hills"})
    assert post_file(client, "/upload_refactored", workbook.data, headers={"X-Portal-User": "dana"}).status_code == 200
    assert "Puente Hills" in client.get("/incidences?facility=puente").get_data(as_text=True)
    [row] = client.get("/uploads", headers=JSON).get_json()["uploads"]
    assert (row["status"], row["id_incidence"], row["route"], row["path"]) == ("processed", 8801, "direct", "refactored")


def test_the_page_size_is_capped(client, db):
    for i in range(205):
        _upload(db, "processed", minutes=i)
    assert len(client.get("/uploads?per_page=100000", headers=JSON).get_json()["uploads"]) == 200


@pytest.mark.parametrize("value, shown", [
    (dt.datetime(2026, 1, 15, 18, 31, 48, 740608, tzinfo=dt.timezone.utc), "2026-01-15 10:31 PST"),
    (dt.datetime(2026, 7, 1, 18, 31), "2026-07-01 11:31 PDT"),  # naive: UTC as SQLite returns it
    ("2026-12-03T10:31:48.740608+00:00", "2026-12-03 02:31 PST"),
    (None, ""), ("not a time", "not a time"),
])
def test_times_are_shown_in_california_with_the_zone_named(value, shown):
    assert ca_time(value) == shown


def test_seconds_are_shown_when_asked():
    assert ca_time(T0, seconds=True) == "2026-01-15 10:00:00 PST"


@pytest.mark.parametrize("user, label", [("anon-3f9c2a77d0e1b2c4", "anonymous (3f9c2a)"), ("dana", "dana"), (None, "unknown")])
def test_users_get_a_short_label(user, label):
    assert user_label(user) == label


def test_no_page_shows_a_raw_timestamp(client, five):
    raw = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d\.\d+")
    workbook = generate_workbook("energy_v01_00", seed=6, id_incidence=101)
    name = post_file(client, "/upload_staged_refactored", workbook.data).get_json()["staged_filename"]
    for url in ("/incidences", "/uploads", "/incidence_update/101", "/list_staged", f"/review_staged/101/{name}"):
        assert not raw.search(client.get(url).get_data(as_text=True)), url


def test_the_facility_search_follows_renames_and_short_terms(client, five, db):
    _incidence(db, 102, "Landfill", "Puente Hills Landfill", 6)  # renamed
    assert _ids(client, "/incidences?facility=sunshine")[0] == []
    assert _ids(client, "/incidences?facility=PUENTE")[0] == [102]
    assert _ids(client, "/incidences?facility=ry")[0] == [104]  # too short for the trigram index: read newest first
    assert _ids(client, "/incidences?facility=o")[0] == [105, 103, 101]
