"""The database connection: engine, sessions, SQLite tuning, and schema migrations.

The same code runs on SQLite (the embedded default) and PostgreSQL. On SQLite a writing
transaction starts with `BEGIN IMMEDIATE`, which takes the write lock up front, so two
writers queue instead of both reading a row and one losing its update. On PostgreSQL
writers lock the incidence row (`SELECT ... FOR UPDATE`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from app.ingest.errors import DatabaseUnavailable

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
WRITE = {"sqlite_write": True}


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets WAL, a busy timeout and explicit BEGIN."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        _tune_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own is deferred).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        mode = "IMMEDIATE" if connection.get_execution_options().get("sqlite_write") else "DEFERRED"
        connection.exec_driver_sql(f"BEGIN {mode}")


class Database:
    """Engine plus session factory; `init_app` attaches it to a Flask app."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.engine.dialect.name

    @contextmanager
    def session(self, write: bool = False) -> Iterator[Session]:
        """A session in one transaction, committed on success and rolled back on error.

        `write=True` takes SQLite's write lock at the start of the transaction.
        """
        with self._sessions() as session, session.begin():
            if write:
                # Before anything else, so the options are in place when BEGIN is sent.
                session.connection(execution_options=WRITE)
            yield session

    @contextmanager
    def transaction(self, write: bool = False) -> Iterator[Connection]:
        """A Core connection in one transaction (the write path uses it: no ORM overhead)."""
        with self.engine.connect() as connection:
            if write:
                connection.execution_options(**WRITE)
            with connection.begin():
                yield connection

    def ping(self) -> None:
        """Raise `DatabaseUnavailable` unless a trivial query succeeds."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:
            raise DatabaseUnavailable(str(exc).splitlines()[0]) from exc

    def upgrade(self) -> None:
        """Bring the schema to the latest Alembic revision."""
        upgrade_schema(self.engine)

    def dispose(self) -> None:
        """Close pooled connections."""
        self.engine.dispose()


def alembic_config(engine: Engine | None = None):
    """Alembic configuration pointing at this project's migrations."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return config


def upgrade_schema(engine: Engine) -> None:
    """Run `alembic upgrade head` on `engine`."""
    from alembic import command

    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
