"""How long a flag change took to reach every worker of this instance.

Each worker publishes the flag state version its decisions use as the
`portal_flag_seen_version{flag}` gauge (`Metrics.publish_seen_versions`): once at start-up,
then from the flag cache's change listener after every reload that changed something.
Under gunicorn the gauge is a multiprocess "liveall" one: one series per live worker (`pid`
label), and gunicorn's `child_exit` hook drops a dead worker's file, so only live workers
count. Without a multiprocess folder (one process, tests) the only worker is this process,
read from its flag cache directly.

`wait_until_seen` polls those readings until every worker's version of every written flag is
at least the version written, bounded by a limit, with an injected clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from prometheus_client import multiprocess

from app.harness.metrics import Metrics
from flags import FlagService

__all__ = ["Propagation", "read_worker_versions", "wait_until_seen", "watch_versions"]

SEEN_VERSION = "portal_flag_seen_version"
THIS_PROCESS = "this process"

# {worker: {flag: version}}
WorkerVersions = dict[str, dict[str, int]]


@dataclass(frozen=True)
class Propagation:
    """What a wait found: `seconds` until every worker had the versions (None past the limit)."""

    seconds: float | None
    workers: int  # workers seen at the last reading
    behind: dict[str, dict[str, int]] = field(default_factory=dict)  # {worker: {flag: version seen}} at the limit
    multiprocess: bool = False  # False: only this process was measured (no gunicorn metrics folder)

    @property
    def caught_up(self) -> int:
        """Workers that had every version at the last reading."""
        return self.workers - len(self.behind)

    def to_dict(self) -> dict:
        """The JSON fields of a rollback answer."""
        return {"reached_all_workers_seconds": None if self.seconds is None else round(self.seconds, 4),
                "workers": self.workers, "workers_caught_up": self.caught_up,
                "workers_behind": {worker: dict(versions) for worker, versions in self.behind.items()},
                "workers_measured": "every live gunicorn worker" if self.multiprocess else THIS_PROCESS}


def watch_versions(flags: FlagService, metrics: Metrics) -> None:
    """Publish this worker's seen versions now and after every reload that changes a flag."""
    metrics.publish_seen_versions(flags.cache.versions())
    flags.cache.add_change_listener(lambda _changed: metrics.publish_seen_versions(flags.cache.versions()))


def read_worker_versions(flags: FlagService, multiprocess_dir: str | None) -> Callable[[], WorkerVersions]:
    """A reader of every live worker's seen versions: from the metric files when
    `multiprocess_dir` is set, else this process's flag cache (after a snapshot, which
    rereads an expired on-request cache)."""
    if not multiprocess_dir:
        def this_process() -> WorkerVersions:
            flags.snapshot()
            return {THIS_PROCESS: flags.cache.versions()}
        return this_process

    def every_worker() -> WorkerVersions:
        workers: WorkerVersions = {}
        for family in multiprocess.MultiProcessCollector(None, path=multiprocess_dir).collect():
            if family.name != SEEN_VERSION:
                continue
            for sample in family.samples:
                pid, flag = sample.labels.get("pid"), sample.labels.get("flag")
                if pid is not None and flag is not None:
                    workers.setdefault(f"pid {pid}", {})[flag] = int(sample.value)
        return workers
    return every_worker


def behind(workers: WorkerVersions, wanted: Mapping[str, int]) -> dict[str, dict[str, int]]:
    """{worker: {flag: version seen}} for each worker missing a wanted version."""
    late = {}
    for worker, versions in workers.items():
        missing = {flag: versions.get(flag, 0) for flag, version in wanted.items() if versions.get(flag, 0) < version}
        if missing:
            late[worker] = missing
    return late


def wait_until_seen(read: Callable[[], WorkerVersions], wanted: Mapping[str, int], started: float, limit: float,
                    clock: Callable[[], float] = time.perf_counter, pause: Callable[[float], None] = time.sleep,
                    multiprocess_dir: bool = False, interval: float = 0.02) -> Propagation:
    """Seconds from `started` until every worker `read` reports has each of `wanted`'s versions
    (at least one worker); past `limit`, the workers that had not caught up."""
    while True:
        workers = read()
        late = behind(workers, wanted)
        if workers and not late:
            return Propagation(clock() - started, len(workers), {}, multiprocess_dir)
        if clock() - started > limit:
            return Propagation(None, len(workers), late, multiprocess_dir)
        pause(interval)
