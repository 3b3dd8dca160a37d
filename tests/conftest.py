"""Shared fixtures: real databases (SQLite always, PostgreSQL when configured), the app,
its test client, and the reference workbooks in `../shared/arb_forms` when present."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from app import create_app
from app.compose import services_of
from app.config import Settings
from app.ingest.database import Database, upgrade_schema
from loadtests.multipart import encode_multipart
from tests import services
from tests.csrf import CsrfClient

ROOT = Path(__file__).resolve().parent.parent
SHARED_FORMS = ROOT.parent / "shared" / "arb_forms"
APP_TABLES = ("incidences", "portal_updates", "uploaded_files", "shadow_mismatch_fields", "shadow_mismatches",
              "harness_faults", "rollout_decisions", "rollout_plans", "rollout_lease")


def shared_forms() -> Path:
    """The reference workbooks folder, or skip (a user's fresh clone has no ../shared)."""
    if not (SHARED_FORMS / "samples").is_dir():
        pytest.skip(f"reference workbooks not found at {SHARED_FORMS} (only CI and developers have ../shared)")
    return SHARED_FORMS


@pytest.fixture(autouse=True)
def _csrf_sending_test_client(monkeypatch):
    """Every app's `test_client()` sends the CSRF token as a script would (tests/csrf.py)."""
    from flask import Flask

    monkeypatch.setattr(Flask, "test_client_class", CsrfClient)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A migrated SQLite database file, copied for each test (migrations run once)."""
    path = tmp_path_factory.mktemp("template") / "portal.db"
    engine = create_engine(f"sqlite:///{path}")
    upgrade_schema(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_schema_url():
    """A migrated schema of its own on the configured PostgreSQL, dropped at the end."""
    base = services.postgres_base_url()
    schema = services.new_schema_name("portal")
    admin = create_engine(base)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # noqa: BLE001 - unreachable server
        admin.dispose()
        services.unavailable(f"PostgreSQL at {base} is unreachable: {str(exc).splitlines()[0]}")
    url = services.postgres_url_for_schema(base, schema)
    engine = create_engine(url)
    upgrade_schema(engine)
    engine.dispose()
    yield url
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def _sqlite_url(tmp_path: Path, template: Path) -> str:
    path = tmp_path / "portal.db"
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path, sqlite_template) -> str:
    """A fresh, migrated database: SQLite, and PostgreSQL when configured."""
    if request.param == "sqlite":
        return _sqlite_url(tmp_path, sqlite_template)
    url = request.getfixturevalue("postgres_schema_url")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(APP_TABLES)} RESTART IDENTITY"))
    engine.dispose()
    return url


@pytest.fixture
def sqlite_url(tmp_path, sqlite_template) -> str:
    """A fresh, migrated SQLite database (for tests about something other than the database)."""
    return _sqlite_url(tmp_path, sqlite_template)


def make_settings(tmp_path: Path, database_url: str, **overrides) -> Settings:
    """Settings for a test app: its own instance and upload folders, memory flag store."""
    settings = Settings(
        instance_path=tmp_path / "instance",
        database_url=database_url,
        flag_store_url="memory://",
        upload_folder=tmp_path / "instance" / "uploads",
        secret_key="test-secret-key-" + "x" * 32,
        environment="test",
        shadow_processes=0,  # candidates in a thread; one test covers the process pool
    )
    return settings.with_overrides(overrides) if overrides else settings


@pytest.fixture
def settings(tmp_path, database_url) -> Settings:
    """Settings on the parametrised database."""
    return make_settings(tmp_path, database_url)


@pytest.fixture
def app(settings):
    """The portal app on the parametrised database."""
    application = create_app(settings=settings)
    application.config["TESTING"] = True
    yield application
    services_of(application).db.dispose()


@pytest.fixture
def client(app):
    """A test client sending real WSGI requests through the app."""
    return app.test_client()


@pytest.fixture
def portal(app):
    """The app's collaborators (database, folders, ingestion context)."""
    return services_of(app)


@pytest.fixture
def db(portal) -> Database:
    """The app's database."""
    return portal.db


JSON = {"Accept": "application/json"}


def post_file(client, url: str, data: bytes, filename: str = "form.xlsx", headers: dict | None = None, **form):
    """POST `data` as the `file` field of a multipart form (JSON answer requested)."""
    # built in memory: werkzeug's own encoder spools large bodies to temporary files it leaves open
    body, content_type = encode_multipart(data, filename, **form)
    return client.post(url, data=body, content_type=content_type, headers={**JSON, **(headers or {})})
