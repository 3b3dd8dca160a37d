"""How long a flag change took to reach every worker: the wait over published versions, with
an injected clock, and the readers (this process; every worker's metric files)."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from app.harness.metrics import Metrics
from app.harness.propagation import read_worker_versions, wait_until_seen, watch_versions
from flags import open_service


class Clock:
    """A clock that moves only when the wait pauses."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def pause(self, seconds: float) -> None:
        self.now += seconds


def readings(*steps):
    """A reader returning each of `steps` in turn, then the last one forever."""
    steps = list(steps)

    def read():
        return steps.pop(0) if len(steps) > 1 else steps[0]
    return read


def test_the_wait_ends_when_the_slowest_worker_has_every_version():
    clock = Clock()
    read = readings({"pid 1": {"a": 3, "b": 1}, "pid 2": {"a": 2, "b": 1}},  # pid 2 still on a=2
                    {"pid 1": {"a": 3, "b": 2}, "pid 2": {"a": 2, "b": 2}},
                    {"pid 1": {"a": 3, "b": 2}, "pid 2": {"a": 4, "b": 2}})  # later versions count too
    result = wait_until_seen(read, {"a": 3, "b": 2}, started=clock(), limit=5, clock=clock, pause=clock.pause,
                             multiprocess_dir=True, interval=0.5)
    assert result.seconds == pytest.approx(1.0) and result.workers == 2 and result.behind == {}
    assert result.to_dict()["workers_measured"] == "every live gunicorn worker"


def test_past_the_limit_it_names_the_workers_behind_and_what_they_had():
    clock = Clock()
    read = readings({"pid 1": {"a": 3}, "pid 2": {"a": 2}, "pid 3": {}})
    result = wait_until_seen(read, {"a": 3}, started=clock(), limit=2, clock=clock, pause=clock.pause, interval=0.5)
    assert result.seconds is None and clock() - 100 == pytest.approx(2.5)
    assert result.workers == 3 and result.caught_up == 1
    assert result.behind == {"pid 2": {"a": 2}, "pid 3": {"a": 0}}
    assert result.to_dict()["reached_all_workers_seconds"] is None


def test_no_worker_published_yet_is_not_reached():
    clock = Clock()
    result = wait_until_seen(readings({}), {"a": 1}, started=clock(), limit=1, clock=clock, pause=clock.pause)
    assert result.seconds is None and result.workers == 0


def test_one_process_reads_its_own_cache_and_the_gauge_follows_changes():
    service = open_service("memory://")
    service.ensure_flags()
    service.reload()  # the first snapshot, as the portal reads it at start-up
    metrics = Metrics(CollectorRegistry())
    watch_versions(service, metrics)
    before = service.get("refactored_upload").version
    assert metrics.registry.get_sample_value("portal_flag_seen_version", {"flag": "refactored_upload"}) == before
    written = service.kill("refactored_upload", actor="alice", reason="test")
    read = read_worker_versions(service, None)
    assert read()["this process"]["refactored_upload"] == written.version == before + 1
    assert metrics.registry.get_sample_value("portal_flag_seen_version", {"flag": "refactored_upload"}) == written.version
