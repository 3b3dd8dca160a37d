"""Revision 0004 adds the rollout tables (with the lease row) and the window index, and takes them away."""

from __future__ import annotations

from alembic import command
from sqlalchemy import create_engine, inspect, text

from app.ingest.database import alembic_config


def test_0004_upgrades_with_its_lease_row_and_downgrades(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    config = alembic_config(engine)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0003")
        command.upgrade(config, "0004")
    found = inspect(engine)
    assert {"rollout_plans", "rollout_decisions", "rollout_lease"} <= set(found.get_table_names())
    assert "ix_uploaded_files_route_created_at" in {i["name"] for i in found.get_indexes("uploaded_files")}
    with engine.begin() as conn:
        assert conn.execute(text("SELECT name, holder FROM rollout_lease")).all() == [("controller", None)]
        config.attributes["connection"] = conn
        command.downgrade(config, "0003")
    found = inspect(engine)
    assert "rollout_plans" not in found.get_table_names()
    assert "ix_uploaded_files_route_created_at" not in {i["name"] for i in found.get_indexes("uploaded_files")}
    engine.dispose()
