"""`harness uploads reconcile|interrupted|retry`: what an operator runs after a crash."""

from __future__ import annotations

import os

from click.testing import CliRunner

from app.cli import main
from app.compose import open_database, open_files
from app.config import load_settings
from app.ingest import refactored
from app.ingest.context import IngestContext
from app.ingest.database import Database, DatabaseTimeouts
from app.ingest.outcome import Upload
from app.workbook.generator import generate_workbook


def _env(tmp_path, sqlite_url):
    return {**{k: v for k, v in os.environ.items() if not k.startswith("HARNESS_")},
            "HARNESS_INSTANCE_PATH": str(tmp_path / "instance"), "HARNESS_DATABASE_URL": sqlite_url,
            "HARNESS_FLAG_STORE_URL": "memory://", "HARNESS_SECRET_KEY": "k" * 40}


def test_an_upload_kept_while_the_database_was_down_is_reconciled_and_retried_from_the_command_line(tmp_path, sqlite_url):
    env = _env(tmp_path, sqlite_url)
    files = open_files(load_settings(env))
    down = Database("postgresql+psycopg://postgres@127.0.0.1:1/none", DatabaseTimeouts(statement=1, connect=2))
    workbook = generate_workbook("energy_v01_00", seed=41, id_incidence=1006001)
    assert not refactored.process(IngestContext(down, files), Upload(workbook.data, "cli.xlsx", "dana"), "direct").success
    down.dispose()
    runner = CliRunner()

    reconciled = runner.invoke(main, ["uploads", "reconcile", "--older-than", "0"], env=env)
    assert reconciled.exit_code == 0, reconciled.output
    assert "journalled files recorded:       1" in reconciled.output and "interrupted uploads now:         1" in reconciled.output
    listed = runner.invoke(main, ["uploads", "interrupted"], env=env)
    assert "1 interrupted upload(s)" in listed.output
    upload_id = listed.output.split("\t", 1)[0]
    first = runner.invoke(main, ["uploads", "retry", upload_id], env=env)
    assert first.exit_code == 0 and "processed by the refactored path (incidence 1006001" in first.output
    again = runner.invoke(main, ["uploads", "retry", upload_id], env=env)
    assert again.exit_code == 0 and "nothing to do, it is processed" in again.output
    missing = runner.invoke(main, ["uploads", "retry", "999"], env=env)
    assert missing.exit_code == 1 and "there is no upload 999" in missing.output
    db = open_database(load_settings(env))
    with db.transaction() as conn:
        assert conn.exec_driver_sql("SELECT status FROM uploaded_files").scalars().all() == ["processed"]
    db.dispose()


def test_reconcile_reports_an_unreachable_database(tmp_path):
    env = {**_env(tmp_path, "sqlite://"), "HARNESS_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/none",
           "HARNESS_DB_TIMEOUT_S": "1"}
    result = CliRunner().invoke(main, ["uploads", "reconcile"], env=env)
    assert result.exit_code == 1 and "database unavailable" in result.output and "127.0.0.1" not in result.output
