"""Migration 0006: existing incidences get their facility column filled; it downgrades cleanly."""

from __future__ import annotations

import datetime as dt

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text

from app.ingest.database import alembic_config
from tests import services


def _run(engine, *steps):
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        for step, revision in steps:
            getattr(command, step)(config, revision)


def _check(engine):
    _run(engine, ("upgrade", "0002"))
    now = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    with engine.begin() as conn:
        for id_, misc in ((1, '{"facility_name": "Kern Front"}'), (2, '{"facility_name": 7}'), (3, "{}")):
            conn.execute(text("INSERT INTO incidences (id_incidence, misc_json, created_at, updated_at) "
                              "VALUES (:i, :m, :t, :t)"), {"i": id_, "m": misc, "t": now})
    _run(engine, ("upgrade", "head"))
    with engine.begin() as conn:
        rows = dict(conn.execute(text("SELECT id_incidence, facility_name FROM incidences ORDER BY 1")).all())
    assert rows[1] == "Kern Front" and rows[3] is None
    assert "warnings" in {c["name"] for c in inspect(engine).get_columns("uploaded_files")}
    _run(engine, ("downgrade", "0002"))
    assert "warnings" not in {c["name"] for c in inspect(engine).get_columns("uploaded_files")}


def test_0006_fills_the_facility_column_and_downgrades_on_sqlite(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path}/m.db")
    try:
        _check(engine)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_0006_fills_the_facility_column_and_downgrades_on_postgresql():
    base = services.postgres_base_url()
    schema = services.new_schema_name("m6")
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(services.postgres_url_for_schema(base, schema))
    try:
        _check(engine)
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
