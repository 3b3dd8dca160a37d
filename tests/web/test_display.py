"""Pages show stored moments as staff read them: California local time with the zone named."""

from __future__ import annotations

import datetime as dt
import io

import pytest

from app.web.display import field_value
from app.workbook.generator import generate_workbook


@pytest.mark.parametrize("stored, shown", [
    ("2024-06-25T21:30:00+00:00", "2024-06-25 14:30 PDT"),
    ("2024-12-25T17:30:00+00:00", "2024-12-25 09:30 PST"),
    ("2024-06-25T07:00:05+00:00", "2024-06-25 00:00:05 PDT"),
    ("2024-03-10T10:00:00+00:00", "2024-03-10 03:00 PDT"),  # the day clocks spring forward
    ("2024-11-03T09:00:00+00:00", "2024-11-03 01:00 PST"),
    (None, ""),
    ("not a date", "not a date"),
    ("2024-06-25T14:30:00", "2024-06-25T14:30:00"),  # not a stored moment: shown as it is
])
def test_stored_dates_are_shown_in_california_time_with_the_zone(stored, shown):
    assert field_value(stored, "observation_timestamp", frozenset({"observation_timestamp"})) == shown


def test_only_date_fields_are_converted():
    dates = frozenset({"observation_timestamp"})
    assert field_value("2024-06-25T21:30:00+00:00", "observation_timestamp", dates) == "2024-06-25 14:30 PDT"
    assert field_value("2024-06-25T21:30:00+00:00", "additional_notes", dates) == "2024-06-25T21:30:00+00:00"
    assert field_value(None, "observation_timestamp", dates) == ""
    assert field_value(47, "id_plume", dates) == 47


def _post(client, url, data):
    return client.post(url, data={"file": (io.BytesIO(data), "form.xlsx")}, content_type="multipart/form-data")


def test_the_incidence_and_review_pages_show_california_time(client):
    moment = dt.datetime(2024, 6, 25, 14, 30)  # written in the form: California time
    workbook = generate_workbook("oil_and_gas_v01_00", seed=5, values={"observation_timestamp": moment})
    page = client.get(_post(client, "/upload_refactored", workbook.data).headers["Location"])
    assert b"2024-06-25 14:30 PDT" in page.data
    assert b"2024-06-25T21:30:00+00:00" not in page.data
    assert b"When (UTC)" not in page.data
    again = generate_workbook("oil_and_gas_v01_00", seed=6, id_incidence=workbook.id_incidence,
                              values={"observation_timestamp": dt.datetime(2024, 12, 25, 9, 30)})
    review = client.get(_post(client, "/upload_staged_refactored", again.data).headers["Location"])
    assert b"2024-06-25 14:30 PDT" in review.data and b"2024-12-25 09:30 PST" in review.data
    assert b"+00:00" not in review.data
