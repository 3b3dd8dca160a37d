"""Fault injection: parsed strictly, off unless set, refused in production, applied to the
chosen path only, and shared by every worker through the database."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import select

from app import create_app
from app.compose import services_of
from app.config import ConfigError, load_settings
from app.harness.faults import FaultSet, Faults, FaultsError, parse_faults
from app.ingest.database import Database
from app.ingest.models import UploadedFile
from app.workbook.generator import generate_workbook
from tests.conftest import make_settings, post_file


def test_a_spec_parses_into_named_faults():
    assert parse_faults("refactored.direct.error_rate=0.3, refactored.direct.delay_ms=200") == {
        "refactored.direct.error_rate": 0.3, "refactored.direct.delay_ms": 200.0}
    assert parse_faults("") == {}


@pytest.mark.parametrize("spec, says", [
    ("refactored.direct.error_rate", "name=value"),
    ("refactored.direct.speed=3", "is not a fault"),
    ("legacy.direct.error_rate=0.1", "is not a fault"),
    ("refactored.direct.error_rate=1.5", "outside 0..1"),
    ("refactored.staged.delay_ms=-1", "outside"),
    ("refactored.direct.error_rate=nan", "outside"),
    ("refactored.direct.error_rate=lots", "not a number"),
])
def test_a_malformed_spec_is_refused_naming_the_entry(spec, says):
    with pytest.raises(FaultsError, match=says):
        parse_faults(spec)


def test_faults_are_refused_in_production(tmp_path):
    env = {"HARNESS_ENV": "production", "HARNESS_DATABASE_URL": "sqlite:///x.db", "HARNESS_SECRET_KEY": "k" * 40,
           "HARNESS_FAULTS": "refactored.direct.error_rate=0.3"}
    with pytest.raises(ConfigError, match="refused when HARNESS_ENV=production"):
        load_settings(env, instance_path=tmp_path)
    assert load_settings({"HARNESS_FAULTS": ""}, instance_path=tmp_path).faults == ""
    assert load_settings({}, instance_path=tmp_path).faults is None


def test_a_bad_spec_stops_the_app_with_the_variable_named(tmp_path, sqlite_url):
    with pytest.raises(ConfigError, match="HARNESS_FAULTS: .*is not a fault"):
        create_app(settings=make_settings(tmp_path, sqlite_url, faults="refactored.direct.oops=1"))


def test_without_faults_nothing_is_wrapped(app):
    assert services_of(app).faults is None
    assert type(services_of(app).paths["refactored"]).__name__ == "module"


def test_the_error_rate_fails_about_that_share_of_uploads():
    faults = FaultSet({"refactored.direct.error_rate": 0.3})
    rng = random.Random(5)
    failed = sum(faults.injection("refactored", "direct", rng.random()).fail for _ in range(10_000))
    print(f"injected failures: {failed} of 10000 at error_rate=0.3")
    assert 2_800 < failed < 3_200
    assert not faults.injection("original", "direct", 0.0).fail
    assert not faults.injection("refactored", "staged", 0.0).fail


def test_the_log_says_loudly_that_faults_are_on(tmp_path, sqlite_url, caplog):
    with caplog.at_level("WARNING"):
        app = create_app(settings=make_settings(tmp_path, sqlite_url, faults="refactored.direct.delay_ms=5"))
    assert "FAULT INJECTION IS ON" in caplog.text and "refactored.direct.delay_ms=5" in caplog.text
    services_of(app).db.dispose()


def test_an_injected_error_is_a_processing_error_recorded_with_the_file_kept(tmp_path, database_url):
    app = create_app(settings=make_settings(tmp_path, database_url, faults="refactored.direct.error_rate=1"))
    portal = services_of(app)
    data = generate_workbook("energy_v01_00", seed=31).data
    response = post_file(app.test_client(), "/upload_refactored", data)
    body = response.get_json()
    assert response.status_code == 503
    assert (body["error_type"], body["error_code"]) == ("processing_error", "injected_fault")
    assert post_file(app.test_client(), "/upload_original", data).status_code == 200  # the other path is untouched
    with portal.db.session() as s:
        failed, fine = s.execute(select(UploadedFile).order_by(UploadedFile.id)).scalars().all()
    assert (failed.status, failed.error_type, failed.ingest_path) == ("failed", "processing_error", "refactored")
    assert failed.duration_seconds is not None
    assert (portal.files.root / failed.path).read_bytes() == data
    assert fine.status == "processed"
    portal.db.dispose()


def test_an_injected_delay_counts_in_the_recorded_duration(tmp_path, sqlite_url):
    app = create_app(settings=make_settings(tmp_path, sqlite_url, faults="refactored.staged.delay_ms=300"))
    portal = services_of(app)
    assert post_file(app.test_client(), "/upload_staged_refactored",
                     generate_workbook("energy_v01_00", seed=32).data).status_code == 201
    with portal.db.session() as s:
        record = s.execute(select(UploadedFile)).scalar_one()
    print(f"recorded duration with a 300 ms delay: {record.duration_seconds * 1000:.0f} ms")
    assert record.duration_seconds >= 0.3
    portal.db.dispose()


def test_a_change_reaches_another_worker_after_its_ttl(database_url):
    db = Database(database_url)
    clock = [0.0]
    one = Faults(db, {"refactored.direct.error_rate": 0.5}, ttl=1.0, monotonic=lambda: clock[0])
    two = Faults(db, {"refactored.direct.error_rate": 0.5}, ttl=1.0, monotonic=lambda: clock[0])
    assert two.current().values == {"refactored.direct.error_rate": 0.5}
    one.replace({"original.staged.delay_ms": 50}, actor="rehearsal")
    assert one.current().values == {"original.staged.delay_ms": 50.0}  # the writer sees it at once
    assert two.current().source == "environment"  # the other worker within its second
    clock[0] = 1.5
    assert (two.current().values, two.current().source, two.current().updated_by) == (
        {"original.staged.delay_ms": 50.0}, "api", "rehearsal")
    one.replace({}, actor="rehearsal")
    clock[0] = 3.0
    assert (two.current().values, two.current().source) == ({}, "api")  # emptied, not the environment's
    one.reset(actor="rehearsal")
    clock[0] = 4.5
    assert two.current().source == "environment"
    db.dispose()


def test_an_unreadable_faults_table_keeps_the_last_faults(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'empty.db'}")  # never migrated: no harness_faults table
    faults = Faults(db, {"refactored.direct.error_rate": 0.2}, ttl=0)
    assert faults.current().values == {"refactored.direct.error_rate": 0.2}
    db.dispose()
