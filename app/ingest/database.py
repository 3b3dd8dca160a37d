"""The database connection: engine, sessions, SQLite tuning, and schema migrations.

The same code runs on SQLite (the embedded default) and PostgreSQL. On SQLite a writing
transaction starts with `BEGIN IMMEDIATE`, which takes the write lock up front, so two
writers queue instead of both reading a row and one losing its update. On PostgreSQL
writers lock the incidence row (`SELECT ... FOR UPDATE`).

Every call has a deadline (`DatabaseTimeouts`, from Settings): PostgreSQL gets
`connect_timeout`, `statement_timeout`, `idle_in_transaction_session_timeout` and TCP
keepalives on every connection; SQLite a busy timeout; and each transaction runs under
a client-side deadline (`app.ingest.deadline`) that also frees a thread stuck on a server
that stopped answering altogether. A stuck database is then a `DatabaseUnavailable`
within `timeout + connect_timeout` seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
import logging
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, exc, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from app.ingest.deadline import Deadlines
from app.ingest.errors import DatabaseUnavailable

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
WRITE = {"sqlite_write": True}


@dataclass(frozen=True)
class DatabaseTimeouts:
    """How long any database call may take (seconds; Settings gives them)."""

    statement: float = 3.0
    connect: int = 2
    idle_in_transaction: float = 10.0
    keepalive_idle: int = 10
    keepalive_interval: int = 5
    keepalive_count: int = 3

    @property
    def bound(self) -> float:
        """The longest a caller waits for a stuck database: connect plus statement deadline."""
        return self.connect + self.statement


def make_engine(url: str, timeouts: DatabaseTimeouts = DatabaseTimeouts(), deadlines: Deadlines | None = None) -> Engine:
    """An engine for `url`; SQLite gets WAL, a busy timeout and explicit BEGIN; PostgreSQL
    its timeouts and keepalives, and a ping under the deadline on checkout."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": timeouts.statement})
        _tune_sqlite(engine, timeouts)
        return engine
    engine = create_engine(url, pool_size=5, max_overflow=10, pool_timeout=timeouts.statement)
    _tune_postgresql(engine, timeouts, deadlines)
    return engine


def postgresql_options(timeouts: DatabaseTimeouts) -> str:
    """The libpq `options` that set the server-side timeouts of a session."""
    return (f"-c statement_timeout={int(timeouts.statement * 1000)} "
            f"-c idle_in_transaction_session_timeout={int(timeouts.idle_in_transaction * 1000)}")


def _tune_postgresql(engine: Engine, timeouts: DatabaseTimeouts, deadlines: Deadlines | None) -> None:
    @event.listens_for(engine, "do_connect")
    def _connect_params(_dialect, _record, _cargs, cparams) -> None:
        # Merged with any options the URL carries (tests set search_path there).
        cparams["options"] = f"{cparams.get('options', '')} {postgresql_options(timeouts)}".strip()
        cparams.setdefault("connect_timeout", max(2, int(timeouts.connect)))
        cparams.setdefault("keepalives", 1)
        cparams.setdefault("keepalives_idle", timeouts.keepalive_idle)
        cparams.setdefault("keepalives_interval", timeouts.keepalive_interval)
        cparams.setdefault("keepalives_count", timeouts.keepalive_count)

    if deadlines is None:
        return

    @event.listens_for(engine, "connect")
    def _watch_new(dbapi_connection, _record) -> None:
        deadlines.watch(_socket_of(dbapi_connection))

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_connection, record, _proxy) -> None:
        # The pessimistic ping, under this thread's deadline (SQLAlchemy's own pre-ping
        # would retry a stuck server with a fresh connection, doubling the wait).
        deadlines.watch(_socket_of(dbapi_connection))
        try:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("SELECT 1")
            finally:
                cursor.close()
        except Exception as error:
            record.invalidate(error)
            if deadlines.expired():
                raise DatabaseUnavailable(f"no answer within {deadlines.seconds:g} s") from error
            # A connection the server closed (a restart): the pool tries a fresh one.
            raise exc.DisconnectionError() from error


def public_reason(error: BaseException) -> str:
    """Why a database call failed, in words fit for a user: no host, port or SQL (those
    go to the log)."""
    log.warning("database error: %s", str(error).splitlines()[0] if str(error) else type(error).__name__)
    if isinstance(error, exc.TimeoutError):
        return "the database is busy (no connection free in time)"
    if isinstance(error, (exc.OperationalError, exc.InterfaceError)):
        text_ = str(error).lower()
        if "timeout" in text_ or "canceling statement" in text_:
            return "the database did not answer in time"
        return "the database is unreachable"
    return "the database refused the operation"


def _socket_of(dbapi_connection) -> int | None:
    pgconn = getattr(dbapi_connection, "pgconn", None)  # psycopg 3
    if pgconn is not None:
        try:
            return pgconn.socket
        except Exception:  # noqa: BLE001 - a closed connection has no socket
            return None
    fileno = getattr(dbapi_connection, "fileno", None)  # psycopg2
    return fileno() if callable(fileno) else None


def _tune_sqlite(engine: Engine, timeouts: DatabaseTimeouts) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own is deferred).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(timeouts.statement * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        mode = "IMMEDIATE" if connection.get_execution_options().get("sqlite_write") else "DEFERRED"
        connection.exec_driver_sql(f"BEGIN {mode}")


class Database:
    """Engine plus session factory; `init_app` attaches it to a Flask app."""

    def __init__(self, url: str, timeouts: DatabaseTimeouts = DatabaseTimeouts()) -> None:
        self.url = url
        self.timeouts = timeouts
        self.deadlines = Deadlines(timeouts.statement)
        self.engine = make_engine(url, timeouts, self.deadlines)
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
        with self._deadline(), self._sessions() as session, session.begin():
            if write:
                # Before anything else, so the options are in place when BEGIN is sent.
                session.connection(execution_options=WRITE)
            yield session

    @contextmanager
    def transaction(self, write: bool = False) -> Iterator[Connection]:
        """A Core connection in one transaction (the write path uses it: no ORM overhead)."""
        with self._deadline(), self.engine.connect() as connection:
            if write:
                connection.execution_options(**WRITE)
            with connection.begin():
                yield connection

    @contextmanager
    def _deadline(self) -> Iterator[None]:
        """The block under this database's deadline; past it, a `DatabaseUnavailable` saying so."""
        with self.deadlines.bound():
            try:
                yield
            except exc.SQLAlchemyError as error:
                if self.deadlines.expired():
                    raise DatabaseUnavailable(f"the database gave no answer within {self.deadlines.seconds:g} s") from error
                raise

    def ping(self) -> None:
        """Raise `DatabaseUnavailable` unless a trivial query succeeds (within the deadline)."""
        try:
            with self.transaction() as conn:
                conn.execute(text("SELECT 1"))
        except DatabaseUnavailable:
            raise
        except Exception as error:
            raise DatabaseUnavailable(public_reason(error)) from error

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
