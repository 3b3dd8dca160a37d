"""Background refresh: decisions never wait on the store (frozen, dead or slow), the fallback
rules stay as they are, and the refresher thread is per process, started lazily, fork-safe."""

from __future__ import annotations

import os
import signal
import statistics
import threading
import time

import pytest

from flags import (
    REFACTORED_UPLOAD,
    SHADOW_UPLOAD,
    FlagService,
    MemoryFlagStore,
    Reason,
    Refresh,
    Source,
    StoreUnavailable,
    open_store,
)
from tests.flags.test_fail_safe import private_redis  # noqa: F401 - a Redis server of the test's own


class GatedStore(MemoryFlagStore):
    """A real in-memory store whose decision-cache reads can be held (a frozen store) or refused (dead)."""

    def __init__(self) -> None:
        super().__init__()
        self.open = threading.Event()
        self.open.set()
        self.dead = False
        self.readers: list[str] = []
        self._writing = threading.local()

    def read(self, names):
        """The cache's load: recorded, held while frozen, refused while dead."""
        if getattr(self._writing, "on", False):
            return super().read(names)
        self.readers.append(threading.current_thread().name)
        if not self.open.wait(30):
            raise StoreUnavailable("gated", "read (frozen 30 s)")
        if self.dead:
            raise StoreUnavailable("gated", "read")
        return super().read(names)

    def update(self, names, change):
        """Writes are not gated (an operator's change reaches the store)."""
        self._writing.on = True
        try:
            return super().update(names, change)
        finally:
            self._writing.on = False


@pytest.fixture
def gated(clock):
    store = GatedStore()
    fallbacks: list[tuple[str, str]] = []
    service = FlagService(store, clock=clock, refresh=Refresh.MANUAL, on_fallback=lambda f, s: fallbacks.append((f, s)))
    service.ensure_flags()
    service.set_percent(REFACTORED_UPLOAD, 100, actor="ops")
    store.readers.clear()
    yield service, store, fallbacks
    store.open.set()
    service.close()


def decide_many(service, count=1000):
    started = time.perf_counter()
    decisions = [service.decide(REFACTORED_UPLOAD, f"user-{n}") for n in range(count)]
    return decisions, time.perf_counter() - started


def test_decisions_read_only_the_snapshot_however_old_it_gets(gated, clock):
    service, store, fallbacks = gated
    assert {d.source for d in decide_many(service)[0]} == {Source.STORE}
    clock.advance(1.9)  # due for a reread, but no refresher ran: still fresh enough
    assert {d.source for d in decide_many(service)[0]} == {Source.STORE}
    clock.advance(0.1)  # two TTLs: the snapshot's reader is stuck, so it is the last known state
    decision = service.decide(REFACTORED_UPLOAD, "u")
    assert (decision.enabled, decision.source) == (True, Source.LAST_KNOWN)
    clock.advance(28.1)  # past max_stale: the safe default, as always
    decision = service.decide(REFACTORED_UPLOAD, "u")
    assert (decision.enabled, decision.reason, decision.source) == (False, Reason.STORE_FALLBACK, Source.SAFE_DEFAULT)
    assert store.readers == []  # 2,002 decisions, not one store read
    assert fallbacks[0] == (REFACTORED_UPLOAD, Source.LAST_KNOWN) and fallbacks[-1] == (REFACTORED_UPLOAD, Source.SAFE_DEFAULT)


def test_a_frozen_store_holds_only_the_refresher_while_decisions_keep_answering(gated, clock):
    service, store, fallbacks = gated
    store.open.clear()  # frozen: a read waits up to 30 s
    clock.advance(1)
    refresher = threading.Thread(target=service.tick, name="refresher-under-test")
    refresher.start()
    assert _until(lambda: store.readers == ["refresher-under-test"])
    decisions, seconds = decide_many(service)
    assert seconds < 2.0, f"1,000 decisions took {seconds:.2f} s with the store frozen"
    assert {(d.enabled, d.source) for d in decisions} == {(True, Source.STORE)}  # the snapshot is 1 s old
    clock.advance(1)
    decisions, seconds = decide_many(service)
    assert seconds < 2.0 and {(d.enabled, d.source) for d in decisions} == {(True, Source.LAST_KNOWN)}
    assert refresher.is_alive()  # still stuck in its read
    store.dead = True
    store.open.set()  # the read now fails, as a frozen Redis's does at its socket timeout
    refresher.join(10)
    assert service.cache.last_error is not None
    assert service.decide(REFACTORED_UPLOAD, "u").source == Source.LAST_KNOWN
    assert store.readers == ["refresher-under-test"]
    assert len(fallbacks) == 1001 and set(fallbacks) == {(REFACTORED_UPLOAD, Source.LAST_KNOWN)}


def test_with_background_refresh_the_fallback_rules_are_those_of_the_request_path(gated, clock):
    service, store, _ = gated
    store.dead = True
    clock.advance(1)
    service.tick()
    assert service.decide(REFACTORED_UPLOAD, "u").source == Source.LAST_KNOWN
    store.dead = False
    clock.advance(0.5)  # retried after retry_interval (= ttl), not sooner
    service.tick()
    assert store.readers == ["MainThread"] and service.decide(REFACTORED_UPLOAD, "u").source == Source.LAST_KNOWN
    clock.advance(0.5)
    service.tick()
    decision = service.decide(REFACTORED_UPLOAD, "u")
    assert (decision.enabled, decision.source) == (True, Source.STORE)
    store.dead = True
    clock.advance(31)
    service.tick()
    for flag in (REFACTORED_UPLOAD, SHADOW_UPLOAD):
        decision = service.decide(flag, "u")
        assert (decision.enabled, decision.reason, decision.source) == (False, Reason.STORE_FALLBACK, Source.SAFE_DEFAULT)
    assert service.snapshot().source == Source.SAFE_DEFAULT


def test_the_process_that_writes_a_change_decides_with_it_at_once(gated, clock):
    service, store, _ = gated
    service.kill(REFACTORED_UPLOAD, actor="ops", reason="drill")
    assert service.decide(REFACTORED_UPLOAD, "u").reason == Reason.KILL_SWITCH
    assert store.readers == ["MainThread"]  # the writer read back what it wrote


def test_health_listeners_hear_every_change_of_health(gated, clock):
    service, store, _ = gated
    heard: list[str] = []
    service.cache.add_health_listener(lambda source, error: heard.append(source))
    store.dead = True
    for _ in range(3):
        clock.advance(12)
        service.tick()
    store.dead = False
    clock.advance(1)
    service.tick()
    assert heard == [Source.LAST_KNOWN, Source.LAST_KNOWN, Source.SAFE_DEFAULT, Source.STORE]


def _until(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


# -- the real thread -----------------------------------------------------------------------


def test_the_refresher_thread_starts_with_the_first_decision_and_rereads_the_store(tmp_path):
    url = f"sqlite:///{tmp_path / 'flags.db'}"
    operator = FlagService(open_store(url))
    operator.ensure_flags()
    service = FlagService(open_store(url), ttl=0.2, max_stale=5, refresh=Refresh.BACKGROUND)
    refresher = service.cache.refresher
    assert not refresher.running
    assert service.decide(REFACTORED_UPLOAD, "u").enabled is False
    assert refresher.running
    operator.set_percent(REFACTORED_UPLOAD, 100, actor="ops")  # another process's change
    assert _until(lambda: service.decide(REFACTORED_UPLOAD, "u").enabled, timeout=5)
    service.close()
    assert not refresher.running
    operator.close()


def test_a_kill_made_after_start_up_reaches_the_first_decision_of_a_process(tmp_path):
    """The snapshot read at start-up (before any decision) is older than the TTL by the first
    request: that request waits for the refresher's first read instead of deciding from it."""
    url = f"sqlite:///{tmp_path / 'flags.db'}"
    operator = FlagService(open_store(url))
    operator.ensure_flags()
    operator.set_percent(REFACTORED_UPLOAD, 100, actor="ops")
    service = FlagService(open_store(url), ttl=0.2, max_stale=5, refresh=Refresh.BACKGROUND)
    service.reload()  # what the portal does at start-up
    operator.kill(REFACTORED_UPLOAD, actor="ops", reason="regression")
    time.sleep(0.3)  # the start-up snapshot is now older than the TTL
    assert service.decide(REFACTORED_UPLOAD, "u").enabled is False
    service.close()
    operator.close()


# Python 3.12+ warns on fork() with threads running: that is the very case under test (gunicorn does it).
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_runs_its_own_refresher_and_follows_changes_made_after_the_fork(tmp_path):
    url = f"sqlite:///{tmp_path / 'flags.db'}"
    operator = FlagService(open_store(url))
    operator.ensure_flags()
    service = FlagService(open_store(url), ttl=0.2, max_stale=5, refresh=Refresh.BACKGROUND)
    assert service.decide(REFACTORED_UPLOAD, "u").enabled is False  # the parent's thread runs
    go_read, go_write = os.pipe()
    result_read, result_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: as a gunicorn worker forked from a master that built the app
        code = 1
        try:
            os.close(go_write)
            os.read(go_read, 1)  # wait until the parent has changed the flag
            started_before = service.cache.refresher.running
            deadline = time.monotonic() + 10
            while not service.decide(REFACTORED_UPLOAD, "u").enabled and time.monotonic() < deadline:
                time.sleep(0.02)
            seen = service.decide(REFACTORED_UPLOAD, "u")
            os.write(result_write, f"{started_before} {service.cache.refresher.running} {seen.enabled} {seen.source}".encode())
            code = 0
        finally:
            os._exit(code)
    os.close(go_read)
    operator.set_percent(REFACTORED_UPLOAD, 100, actor="ops")
    os.write(go_write, b"x")
    _, status = os.waitpid(pid, 0)
    answer = os.read(result_read, 200).decode()
    assert os.waitstatus_to_exitcode(status) == 0
    # Before its first decision the child had no thread (the parent's did not survive the fork).
    assert answer == "False True True store"
    service.close()
    operator.close()


@pytest.mark.redis
def test_a_frozen_then_dead_redis_costs_decisions_nothing(private_redis):  # noqa: F811
    from openfeature.evaluation_context import EvaluationContext
    from openfeature.flag_evaluation import Reason as OFReason

    from flags.openfeature import FlagsProvider

    url, process = private_redis
    service = FlagService(open_store(url + "?prefix=frozen"), max_stale=4, refresh=Refresh.BACKGROUND)
    service.ensure_flags()
    service.set_percent(REFACTORED_UPLOAD, 50, actor="ops")
    provider = FlagsProvider.from_service(service)
    users = [f"user-{n}" for n in range(500)]
    expected = {user: service.decide(REFACTORED_UPLOAD, user).enabled for user in users}

    def phase(seconds: float):
        """Decide in a loop for `seconds`; per-decision latencies and the sources seen."""
        latencies, sources, wrong = [], set(), 0
        deadline = time.monotonic() + seconds
        n = 0
        while time.monotonic() < deadline:
            user = users[n % len(users)]
            started = time.perf_counter()
            decision = service.decide(REFACTORED_UPLOAD, user)
            latencies.append(time.perf_counter() - started)
            sources.add(decision.source)
            wrong += decision.source != Source.SAFE_DEFAULT and decision.enabled != expected[user]
            n += 1
            if n % 50 == 0:
                time.sleep(0.001)  # let the refresher run, as between requests
        return latencies, sources, wrong

    healthy, healthy_sources, _ = phase(1.5)
    process.send_signal(signal.SIGSTOP)
    try:
        frozen, frozen_sources, frozen_wrong = phase(3.0)  # several 0.5 s socket timeouts of the refresher
    finally:
        process.send_signal(signal.SIGCONT)
    assert _until(lambda: service.decide(REFACTORED_UPLOAD, "u").source == Source.STORE)
    process.kill()
    process.wait(10)
    dead, dead_sources, _ = phase(5.0)  # past max_stale (4 s): the safe default
    details = provider.resolve_boolean_details(REFACTORED_UPLOAD, False, EvaluationContext(targeting_key=users[0]))
    service.close()

    for name, values in (("healthy", healthy), ("frozen", frozen), ("dead", dead)):
        print(f"\n  {name}: {len(values):,} decisions, p50 {statistics.median(values) * 1e6:.1f} us, "
              f"max {max(values) * 1e3:.2f} ms")
    assert healthy_sources == {Source.STORE}
    assert Source.LAST_KNOWN in frozen_sources and frozen_wrong == 0  # the same users, from the last known state
    assert {Source.LAST_KNOWN, Source.SAFE_DEFAULT} <= dead_sources
    # Generous bounds for a loaded machine: a decision that waited on the store would take 500 ms.
    for values in (frozen, dead):
        assert statistics.median(values) < 0.001
        assert max(values) < 0.25
    assert (details.value, details.reason) == (False, OFReason.ERROR)
