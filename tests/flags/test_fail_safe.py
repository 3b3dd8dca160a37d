"""With the store unreachable, decisions never raise: last known state, then the safe default."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import create_engine, text

from flags import (
    REFACTORED_UPLOAD,
    SHADOW_UPLOAD,
    FlagService,
    Reason,
    Source,
    StoreUnavailable,
    open_store,
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def private_redis() -> Iterator[tuple[str, subprocess.Popen]]:
    """A Redis server of our own on a free port (the shared one is never stopped)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = Redis.from_url(url, socket_connect_timeout=0.2)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except RedisError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                pytest.fail("private redis-server did not start")
            time.sleep(0.05)
    client.close()
    yield url, process
    if process.poll() is None:
        process.kill()
    process.wait(timeout=10)


def stop(process: subprocess.Popen) -> None:
    process.kill()
    process.wait(timeout=10)


@pytest.mark.redis
def test_with_redis_down_decisions_use_the_last_known_state_then_the_original_path(private_redis, clock):
    url, process = private_redis
    fallbacks: list[tuple[str, str]] = []
    service = FlagService(open_store(url + "?prefix=down"), clock=clock, ttl=1, max_stale=30, on_fallback=lambda f, s: fallbacks.append((f, s)))
    service.ensure_flags()
    service.set_percent(REFACTORED_UPLOAD, 100, actor="ops")
    service.set_percent(SHADOW_UPLOAD, 100, actor="ops")
    assert service.decide(REFACTORED_UPLOAD, "u").enabled

    stop(process)
    clock.advance(2)
    decision = service.decide(REFACTORED_UPLOAD, "u")
    assert (decision.enabled, decision.reason, decision.source) == (True, Reason.PERCENTAGE, Source.LAST_KNOWN)
    assert fallbacks == [(REFACTORED_UPLOAD, Source.LAST_KNOWN)]

    clock.advance(29)  # 31 s since the last good read: past max_stale
    for flag in (REFACTORED_UPLOAD, SHADOW_UPLOAD):
        decision = service.decide(flag, "u")
        assert (decision.enabled, decision.reason, decision.source) == (False, Reason.STORE_FALLBACK, Source.SAFE_DEFAULT)
        assert decision.path == "original"
    assert service.is_enabled(SHADOW_UPLOAD, "u") is False
    assert fallbacks[-1] == (SHADOW_UPLOAD, Source.SAFE_DEFAULT)
    assert service.snapshot().source == Source.SAFE_DEFAULT

    with pytest.raises(StoreUnavailable):
        service.kill(REFACTORED_UPLOAD, actor="ops", reason="x")
    with pytest.raises(StoreUnavailable):
        service.ping()
    service.close()


@pytest.mark.redis
def test_a_service_started_while_redis_is_down_sends_everyone_to_the_original_path(private_redis, clock):
    url, process = private_redis
    stop(process)
    fallbacks = []
    service = FlagService(open_store(url), clock=clock, on_fallback=lambda f, s: fallbacks.append(s))
    with pytest.raises(StoreUnavailable):
        service.ensure_flags()
    decision = service.decide(REFACTORED_UPLOAD, "u")
    assert (decision.enabled, decision.reason) == (False, Reason.STORE_FALLBACK)
    assert fallbacks == [Source.SAFE_DEFAULT]
    service.close()


@pytest.fixture
def sqlite_service(tmp_path, clock):
    url = f"sqlite:///{tmp_path / 'flags.db'}"
    fallbacks: list[tuple[str, str]] = []
    service = FlagService(open_store(url), clock=clock, ttl=1, max_stale=30, on_fallback=lambda f, s: fallbacks.append((f, s)))
    service.ensure_flags()
    service.set_percent(REFACTORED_UPLOAD, 100, actor="ops")
    engine = create_engine(url)
    yield service, engine, fallbacks
    engine.dispose()
    service.close()


def break_store(engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE flag_features RENAME TO flag_features_away"))


def mend_store(engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE flag_features_away RENAME TO flag_features"))


def test_a_broken_sql_store_falls_back_and_recovers_once_reachable_again(sqlite_service, clock):
    service, engine, fallbacks = sqlite_service
    assert service.decide(REFACTORED_UPLOAD, "u").source == Source.STORE
    break_store(engine)
    clock.advance(1)
    assert service.decide(REFACTORED_UPLOAD, "u").source == Source.LAST_KNOWN
    mend_store(engine)
    # The failed read is retried after retry_interval (= ttl), not on every request.
    clock.advance(0.5)
    assert service.decide(REFACTORED_UPLOAD, "u").source == Source.LAST_KNOWN
    clock.advance(0.5)
    decision = service.decide(REFACTORED_UPLOAD, "u")
    assert (decision.enabled, decision.source) == (True, Source.STORE)
    assert [s for _, s in fallbacks] == [Source.LAST_KNOWN, Source.LAST_KNOWN]


def test_the_last_known_state_is_used_for_at_most_max_stale_seconds(sqlite_service, clock):
    service, engine, _ = sqlite_service
    service.decide(REFACTORED_UPLOAD, "u")
    break_store(engine)
    clock.advance(30)
    assert service.decide(REFACTORED_UPLOAD, "u").source == Source.LAST_KNOWN
    clock.advance(0.01)
    assert service.decide(REFACTORED_UPLOAD, "u").source == Source.SAFE_DEFAULT


def test_a_corrupt_flag_record_falls_back_instead_of_raising(sqlite_service, clock):
    service, engine, fallbacks = sqlite_service
    assert service.decide(REFACTORED_UPLOAD, "u").source == Source.STORE
    with engine.begin() as conn:
        conn.execute(text("UPDATE flag_features SET item = 'not json'"))
    clock.advance(1)
    assert service.decide(REFACTORED_UPLOAD, "u").source == Source.LAST_KNOWN
    assert service.is_enabled(REFACTORED_UPLOAD, "u") is True


def test_a_fallback_hook_that_raises_does_not_reach_the_caller(sqlite_service, clock):
    service, engine, _ = sqlite_service

    def broken_hook(flag, source):
        raise RuntimeError("metrics down")

    service.add_fallback_hook(broken_hook)
    break_store(engine)
    clock.advance(60)
    assert service.decide(REFACTORED_UPLOAD, "u").reason == Reason.STORE_FALLBACK


def test_an_unreachable_postgresql_store_can_be_opened_and_decides_safely(clock):
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nowhere"
    service = FlagService(open_store(url, timeout=1), clock=clock)
    assert service.decide(REFACTORED_UPLOAD, "u").reason == Reason.STORE_FALLBACK
    with pytest.raises(StoreUnavailable):
        service.ping()
    service.close()
