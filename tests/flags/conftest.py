"""Shared fixtures for the flags suite: a manual clock and the same store on four backends.

`store_url` (and the `store` and `service` built on it) runs a test on memory, SQLite, PostgreSQL and Redis. PostgreSQL gets one
schema per test session (dropped at the end) and empties the flag tables after each
test; Redis gets a key prefix per test, deleted afterwards. Nothing here flushes a
shared database.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, text

from flags import FlagService, FlagStore, MemoryFlagStore, open_store
from tests import services

new_schema_name = services.new_schema_name
postgres_base_url = services.postgres_base_url
postgres_url_for_schema = services.postgres_url_for_schema
redis_base_url = services.redis_base_url
unavailable = services.unavailable

STORE_KINDS = [
    "memory",
    "sqlite",
    pytest.param("postgresql", marks=pytest.mark.postgres),
    pytest.param("redis", marks=pytest.mark.redis),
]


class ManualClock:
    """A clock that moves only when told to (TTL behaviour without sleeps)."""

    def __init__(self) -> None:
        self.seconds = 1000.0
        self.wall = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)

    def monotonic(self) -> float:
        """The manual monotonic reading."""
        return self.seconds

    def now(self) -> datetime:
        """The manual wall time."""
        return self.wall

    def advance(self, seconds: float) -> None:
        """Move both clocks forward."""
        self.seconds += seconds
        self.wall += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> ManualClock:
    """A fresh manual clock."""
    return ManualClock()


@pytest.fixture(scope="session")
def flags_postgres_url() -> Iterator[str]:
    """A PostgreSQL URL whose connections use a schema private to this test session."""
    base = postgres_base_url()
    schema = new_schema_name("flags")
    engine = create_engine(base)
    try:
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as error:  # noqa: BLE001 - reported as skip/fail below
        engine.dispose()
        unavailable(f"PostgreSQL at {base} unreachable: {error}")
    try:
        yield postgres_url_for_schema(base, schema)
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


def _redis_reachable(url: str) -> None:
    from redis import Redis
    from redis.exceptions import RedisError

    client = Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    try:
        client.ping()
    except RedisError as error:
        unavailable(f"Redis at {url} unreachable: {error}")
    finally:
        client.close()


@pytest.fixture(params=STORE_KINDS)
def store_url(request, tmp_path) -> Iterator[str]:
    """A URL for a fresh, isolated store of kind `request.param` (memory:// is per-store)."""
    kind = request.param
    if kind == "memory":
        yield "memory://"
    elif kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'flags.db'}"
    elif kind == "postgresql":
        url = request.getfixturevalue("flags_postgres_url")
        yield url
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM flag_features"))
            conn.execute(text("DELETE FROM flag_audit"))
        engine.dispose()
    elif kind == "redis":
        base = redis_base_url()
        _redis_reachable(base)
        prefix = f"test:flags:{uuid.uuid4().hex}"
        sep = "&" if "?" in base else "?"
        yield f"{base}{sep}prefix={prefix}"
        from redis import Redis

        client = Redis.from_url(base)
        for key in client.scan_iter(match=f"{prefix}:*"):
            client.delete(key)
        client.close()
    else:  # pragma: no cover
        raise ValueError(kind)


@pytest.fixture
def open_twin(store_url) -> Iterator[Callable[[], FlagStore]]:
    """Opens stores sharing one backend (a second process's view); closes them afterwards."""
    opened: list[FlagStore] = []
    shared_memory = MemoryFlagStore() if store_url == "memory://" else None

    def make() -> FlagStore:
        store = shared_memory if shared_memory is not None else open_store(store_url)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(open_twin) -> FlagStore:
    """A fresh store on the parametrised backend."""
    return open_twin()


@pytest.fixture
def service(store, clock) -> FlagService:
    """A flag service on `store` with a manual clock, flags created."""
    service = FlagService(store, clock=clock)
    service.ensure_flags()
    return service
