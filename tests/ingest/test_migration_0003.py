"""Revision 0003 adds the evidence columns, the window index and the faults table to a
database that already holds uploads, and takes them away again."""

from __future__ import annotations

from alembic import command
from sqlalchemy import create_engine, inspect, text

from app.ingest.database import alembic_config


def test_0003_upgrades_a_database_with_uploads_and_downgrades(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    config = alembic_config(engine)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0002")
        conn.execute(text("INSERT INTO uploaded_files (original_filename, status, route, ingest_path, created_at, updated_at)"
                          " VALUES ('a.xlsx', 'processed', 'direct', 'original', '2026-12-01', '2026-12-01')"))
        command.upgrade(config, "0003")
    found = inspect(engine)
    columns = {c["name"] for c in found.get_columns("uploaded_files")}
    assert {"duration_seconds", "sector", "decision_reason"} <= columns
    assert "ix_uploaded_files_window" in {i["name"] for i in found.get_indexes("uploaded_files")}
    assert "harness_faults" in found.get_table_names()
    with engine.begin() as conn:
        assert conn.execute(text("SELECT original_filename, duration_seconds FROM uploaded_files")).all() == [("a.xlsx", None)]
        config.attributes["connection"] = conn
        command.downgrade(config, "0002")
    found = inspect(engine)
    assert "duration_seconds" not in {c["name"] for c in found.get_columns("uploaded_files")}
    assert "harness_faults" not in found.get_table_names()
    engine.dispose()
