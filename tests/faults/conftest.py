"""Fixtures for the fault tests: servers of the test's own, which the test may freeze or kill."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from app.ingest.database import upgrade_schema
from tests.own_servers import OwnPostgres, OwnRedis


@pytest.fixture
def own_folder():
    """A folder under /tmp the `postgres` user can reach (pytest's tmp_path is root-only)."""
    folder = Path(tempfile.mkdtemp(prefix="harness-fault-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def own_postgres(own_folder):
    """A PostgreSQL of this test's own, migrated, stopped at the end whatever the test did to it."""
    server = OwnPostgres(own_folder / "pg").start()
    engine = create_engine(server.url)
    upgrade_schema(engine)
    engine.dispose()
    yield server
    server.stop()


@pytest.fixture
def own_redis(own_folder):
    """A redis-server of this test's own (no persistence), stopped at the end."""
    server = OwnRedis(own_folder / "redis").start()
    yield server
    server.stop()
