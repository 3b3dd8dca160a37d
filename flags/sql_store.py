"""The SQL flag store: a flipper store on SQLAlchemy 2.x, for SQLite (embedded) and PostgreSQL.

Tables `flag_features` (one row per flag holding flipper's serialized item and a version)
and `flag_audit` are created with `create_all(checkfirst=True)`; the `flag_` prefix keeps
them clear of the portal's own tables in the same database. Writes are optimistic:
`UPDATE ... WHERE version = :seen` (or an insert that must not conflict) inside one
transaction together with the audit rows, retried when another writer got there first.
On SQLite the write transaction is `BEGIN IMMEDIATE`, so processes queue for the lock
rather than fail on upgrade; a busy timeout bounds the wait.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Iterator, Optional

from flipper.contrib.interface import FlagDoesNotExistError
from flipper.contrib.storage import FeatureFlagStoreItem, FeatureFlagStoreMeta
from flipper.contrib.util.date import now as flipper_now
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    event,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from flags.audit import OS_USER_MARK, AuditEntry, AuditQuery
from flags.errors import InvalidStoreUrl, StoreUnavailable
from flags.state import FlagState
from flags.store import Change, FlagStore, check_versions, retrying

__all__ = ["SqlFlagStore"]

metadata = MetaData()

features = Table(
    "flag_features",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("item", Text, nullable=False),
    Column("version", Integer, nullable=False, default=0),
    Column("updated_at", DateTime(timezone=True), nullable=True),
)

audit_log = Table(
    "flag_audit",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(32), nullable=False, unique=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("flag", String(100), nullable=False, index=True),
    Column("action", String(20), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("old_value", Text, nullable=True),
    Column("new_value", Text, nullable=True),
    Column("reason", Text, nullable=True),
)


class _Conflict(Exception):
    """Another writer changed a flag between our read and our write."""


def _parse(url: str):
    try:
        parsed = make_url(url)
        parsed.get_dialect()
    except (ArgumentError, ValueError) as error:
        raise InvalidStoreUrl(url, f"bad SQL flag store URL: {error}") from None
    return parsed


def _utc(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything stored here is UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class SqlFlagStore(FlagStore):
    """Flags and audit log in two `flag_` tables of any SQLAlchemy database."""

    def __init__(self, engine: Engine, create_tables: bool = True) -> None:
        self._engine = engine
        self._sqlite = engine.dialect.name == "sqlite"
        self.description = engine.url.render_as_string(hide_password=True)
        # Both dialects we support have INSERT ... ON CONFLICT DO NOTHING.
        self._insert = sqlite_insert if self._sqlite else postgresql_insert
        if self._sqlite:
            # pysqlite's implicit BEGIN is deferred, which lets two writers both read and
            # then fail on lock upgrade; writes issue BEGIN IMMEDIATE themselves instead.
            self._writer = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._tables_ready = False
        if create_tables:
            try:
                self.create_tables()
            except StoreUnavailable:
                # Start anyway (decisions fall back safely); tables are retried on first use.
                pass
        else:
            self._tables_ready = True

    @classmethod
    def from_url(cls, url: str, timeout: float = 1.0, busy_timeout: float | None = None) -> SqlFlagStore:
        """An engine for the URL with deadlines, so an unreachable or stuck database fails fast:
        SQLite's busy timeout; PostgreSQL's connect, statement and idle-in-transaction
        timeouts and TCP keepalives (`timeout` seconds each; libpq connects in whole seconds, at least 2)."""
        parsed = _parse(url)
        connect_args: dict[str, object] = {}
        postgresql = parsed.get_backend_name() == "postgresql"
        if parsed.get_backend_name() == "sqlite":
            connect_args["timeout"] = busy_timeout if busy_timeout is not None else max(5.0, timeout)
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        elif postgresql and "connect_timeout" not in parsed.query:
            connect_args["connect_timeout"] = max(2, round(timeout))
        try:
            engine = create_engine(parsed, connect_args=connect_args, pool_pre_ping=True,
                                   pool_timeout=max(timeout, 1.0))
        except (ArgumentError, ImportError) as error:
            raise InvalidStoreUrl(url, f"cannot use flag store URL: {error}") from None
        if postgresql:
            _postgresql_deadlines(engine, timeout)
        return cls(engine)

    @staticmethod
    def check_url(url: str) -> None:
        """Raise `InvalidStoreUrl` for a malformed URL or a missing driver (nothing is connected)."""
        parsed = _parse(url)
        if parsed.get_backend_name() not in ("sqlite", "postgresql"):
            raise InvalidStoreUrl(url, f"the SQL flag store runs on SQLite or PostgreSQL, not {parsed.get_backend_name()!r}")
        try:
            parsed.get_dialect().import_dbapi()
        except (ArgumentError, ImportError) as error:
            raise InvalidStoreUrl(url, f"cannot use flag store URL: {error}") from None

    def create_tables(self) -> None:
        """Create the flag tables if missing (tolerates another process doing the same)."""
        try:
            metadata.create_all(self._engine, checkfirst=True)
        except SQLAlchemyError as error:
            # On PostgreSQL two processes can race on CREATE TABLE; the second look sees
            # the winner's tables. Anything else (server down) is reported.
            try:
                metadata.create_all(self._engine, checkfirst=True)
            except SQLAlchemyError:
                raise StoreUnavailable(self.description, "create tables", error) from error
        self._tables_ready = True

    def _ready(self) -> None:
        if not self._tables_ready:
            self.create_tables()

    def close(self) -> None:
        """Dispose of the engine's connection pool."""
        self._engine.dispose()

    def after_fork(self) -> None:
        """In a forked child: new connections, leaving the parent's sockets to the parent."""
        self._engine.dispose(close=False)

    # -- the harness interface -------------------------------------------------------

    def read(self, names: Sequence[str]) -> dict[str, FlagState]:
        """The named flags' states in one SELECT."""
        self._ready()
        try:
            with self._engine.connect() as conn:
                rows = conn.execute(select(features.c.item).where(features.c.name.in_(list(names)))).all()
        except SQLAlchemyError as error:
            raise StoreUnavailable(self.description, "read", error) from error
        states = (FlagState.deserialize(row.item) for row in rows)
        return {state.name: state for state in states}

    def update(self, names: Sequence[str], change: Change) -> list[FlagState]:
        """Apply `change` in one transaction with its audit rows; retried on conflict."""
        self._ready()
        try:
            return retrying(self.description, lambda: self._attempt(list(names), change), _Conflict)
        except SQLAlchemyError as error:
            raise StoreUnavailable(self.description, "update", error) from error

    def _attempt(self, names: list[str], change: Change) -> list[FlagState]:
        with self._begin_write() as conn:
            rows = conn.execute(select(features.c.item).where(features.c.name.in_(names))).all()
            current: dict[str, FlagState | None] = {name: None for name in names}
            current.update({state.name: state for state in (FlagState.deserialize(r.item) for r in rows)})
            new_states, entries = change(current)
            check_versions(current, new_states)
            for state in new_states:
                self._write_state(conn, state, current[state.name])
            if entries:
                conn.execute(insert(audit_log), [_audit_row(entry) for entry in entries])
            return list(new_states)

    def _write_state(self, conn: Connection, state: FlagState, before: FlagState | None) -> None:
        values = {"item": state.serialize().decode("utf-8"), "version": state.version, "updated_at": state.updated_at}
        if before is None:
            # Insert-if-absent: a concurrent creator makes this insert nothing, and we retry.
            stmt = (
                self._insert(features)
                .values(name=state.name, **values)
                .on_conflict_do_nothing()
                .returning(features.c.name)
            )
            if conn.execute(stmt).first() is None:
                raise _Conflict(state.name)
            return
        result = conn.execute(
            update(features)
            .where(features.c.name == state.name, features.c.version == before.version)
            .values(**values)
        )
        if result.rowcount != 1:
            raise _Conflict(state.name)

    def _begin_write(self):
        if self._sqlite:
            return _SqliteImmediate(self._writer)
        return self._engine.begin()

    def history(self, query: AuditQuery) -> list[AuditEntry]:
        """Audit rows matching the query, newest first."""
        stmt = select(audit_log).order_by(audit_log.c.at.desc(), audit_log.c.seq.desc()).limit(query.limit)
        if query.flag is not None:
            stmt = stmt.where(audit_log.c.flag == query.flag)
        if query.actor is not None:
            stmt = stmt.where(or_(audit_log.c.actor == query.actor,
                                  audit_log.c.actor.startswith(query.actor + OS_USER_MARK, autoescape=True)))
        if query.action is not None:
            stmt = stmt.where(audit_log.c.action == query.action)
        if query.since is not None:
            stmt = stmt.where(audit_log.c.at >= query.since)
        self._ready()
        try:
            with self._engine.connect() as conn:
                rows = conn.execute(stmt).all()
        except SQLAlchemyError as error:
            raise StoreUnavailable(self.description, "history", error) from error
        return [
            AuditEntry(
                id=row.id,
                at=_utc(row.at),
                flag=row.flag,
                action=row.action,
                actor=row.actor,
                old=json.loads(row.old_value) if row.old_value is not None else None,
                new=json.loads(row.new_value) if row.new_value is not None else None,
                reason=row.reason,
            )
            for row in rows
        ]

    # -- flipper's store interface (so flipper's own client can use this store) ------

    def create(self, feature_name: str, is_enabled: bool = False, client_data: Optional[dict] = None):
        """flipper's create: writes a fresh item, replacing any existing one."""
        item = FeatureFlagStoreItem(feature_name, is_enabled, FeatureFlagStoreMeta(flipper_now(), client_data))
        self._put_item(item)
        return item

    def get(self, feature_name: str) -> Optional[FeatureFlagStoreItem]:
        """flipper's get: the stored item or None."""
        self._ready()
        with self._engine.connect() as conn:
            raw = conn.execute(select(features.c.item).where(features.c.name == feature_name)).scalar()
        return None if raw is None else FeatureFlagStoreItem.deserialize(raw.encode("utf-8"))

    def set(self, feature_name: str, is_enabled: bool) -> None:
        """flipper's set: change the enabled bit, keeping the meta."""
        existing = self.get(feature_name)
        if existing is None:
            self.create(feature_name, is_enabled)
            return
        meta = FeatureFlagStoreMeta.from_dict(existing.meta)
        self._put_item(FeatureFlagStoreItem(feature_name, is_enabled, meta))

    def set_meta(self, feature_name: str, meta: FeatureFlagStoreMeta) -> None:
        """flipper's set_meta: replace the meta, keeping the enabled bit."""
        existing = self.get(feature_name)
        if existing is None:
            raise FlagDoesNotExistError(f"Feature {feature_name} does not exist")
        self._put_item(FeatureFlagStoreItem(feature_name, existing.raw_is_enabled, meta))

    def delete(self, feature_name: str) -> None:
        """flipper's delete."""
        self._ready()
        with self._engine.begin() as conn:
            conn.execute(delete(features).where(features.c.name == feature_name))

    def list(self, limit: Optional[int] = None, offset: int = 0) -> Iterator[FeatureFlagStoreItem]:
        """flipper's list, by name."""
        self._ready()
        stmt = select(features.c.item).order_by(features.c.name).offset(offset)
        if limit is not None:
            stmt = stmt.limit(limit)
        with self._engine.connect() as conn:
            raws = conn.execute(stmt).scalars().all()
        return iter([FeatureFlagStoreItem.deserialize(raw.encode("utf-8")) for raw in raws])

    def _put_item(self, item: FeatureFlagStoreItem) -> None:
        # flipper's own writes bypass our version check, so bump the version to make any
        # concurrent optimistic writer of ours retry.
        self._ready()
        with self._begin_write() as conn:
            exists = conn.execute(select(features.c.version).where(features.c.name == item.feature_name)).scalar()
            serialized = item.serialize().decode("utf-8")
            if exists is None:
                conn.execute(insert(features).values(name=item.feature_name, item=serialized, version=0))
            else:
                conn.execute(
                    update(features)
                    .where(features.c.name == item.feature_name)
                    .values(item=serialized, version=features.c.version + 1)
                )


def _postgresql_deadlines(engine: Engine, timeout: float) -> None:
    """Server-side deadlines and keepalives on every connection (merged with the URL's options)."""
    milliseconds = max(100, int(timeout * 1000))

    @event.listens_for(engine, "do_connect")
    def _params(_dialect, _record, _cargs, cparams) -> None:
        own = f"-c statement_timeout={milliseconds} -c idle_in_transaction_session_timeout={milliseconds * 10}"
        cparams["options"] = f"{cparams.get('options', '')} {own}".strip()
        cparams.setdefault("keepalives", 1)
        cparams.setdefault("keepalives_idle", 10)
        cparams.setdefault("keepalives_interval", 5)
        cparams.setdefault("keepalives_count", 3)


def _audit_row(entry: AuditEntry) -> dict[str, object]:
    return {
        "id": entry.id,
        "at": entry.at,
        "flag": entry.flag,
        "action": entry.action,
        "actor": entry.actor,
        "old_value": None if entry.old is None else json.dumps(entry.old, sort_keys=True),
        "new_value": None if entry.new is None else json.dumps(entry.new, sort_keys=True),
        "reason": entry.reason,
    }


class _SqliteImmediate:
    """A write transaction that takes SQLite's write lock up front (`BEGIN IMMEDIATE`)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._conn: Connection | None = None

    def __enter__(self) -> Connection:
        self._conn = self._engine.connect()
        try:
            self._conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            self._conn.close()
            raise
        return self._conn

    def __exit__(self, exc_type, exc, tb) -> None:
        assert self._conn is not None
        try:
            self._conn.exec_driver_sql("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self._conn.close()
