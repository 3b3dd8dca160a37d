"""What the admin pages show, read from the portal's collaborators (no Flask here).

- `routed_users`: distinct users whose uploads each path served in the last hour, per
  route, from the uploads table (every upload is recorded there before it is processed).
- `shadow_results`: shadow runs by route and result since the workers started, from the
  `portal_shadow_runs_total` counters (every worker's values under gunicorn).
- `next_step`: the rollout step to suggest after the current percent (the plan's steps).
- `wait_until_killed`: how long a rollback took to reach this worker's decisions.
- `wait_until_every_worker`: how long it took to reach every live worker of this instance
  (`app.harness.propagation`: each worker's published flag version).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from collections.abc import Callable, Iterable, Sequence

from prometheus_client import CollectorRegistry, multiprocess
from sqlalchemy import func, select

from app.harness.metrics import SHADOW_RESULTS, Metrics
from app.harness.propagation import Propagation, read_worker_versions, wait_until_seen
from app.harness.rollout.plan import DEFAULT_STEPS  # the rollout plan's steps, suggested on the flag page
from app.ingest.database import Database
from app.ingest.models import UploadedFile
from app.ingest.outcome import PATHS, ROUTES
from flags import FlagService, FlagState

__all__ = ["DEFAULT_STEPS", "RollbackReach", "measure_rollback", "next_step", "routed_users", "rollback_limit",
           "shadow_results", "wait_until_every_worker", "wait_until_killed"]



def next_step(percent: float, steps: Sequence[float] = DEFAULT_STEPS) -> float | None:
    """The first step above `percent`, or None at the last step."""
    return next((step for step in steps if step > percent), None)


def routed_users(db: Database, now: dt.datetime, window: dt.timedelta = dt.timedelta(hours=1)) -> dict[str, dict[str, int]]:
    """{route: {path: distinct users}} for uploads received in the window before `now`."""
    counts = {route: {path: 0 for path in PATHS} for route in ROUTES}
    query = (select(UploadedFile.route, UploadedFile.ingest_path, func.count(func.distinct(UploadedFile.user)))
             .where(UploadedFile.created_at >= now - window)
             .group_by(UploadedFile.route, UploadedFile.ingest_path))
    with db.session() as session:
        for route, path, users in session.execute(query):
            if route in counts and path in counts[route]:
                counts[route][path] = int(users)
    return counts


def shadow_results(metrics: Metrics, multiprocess_dir: str | None) -> dict[str, dict[str, int]]:
    """{route: {result: runs}} summed over every worker (and over which path was primary)."""
    if multiprocess_dir:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=multiprocess_dir)
        families: Iterable = registry.collect()
    else:
        families = metrics.registry.collect()
    results = {route: dict.fromkeys(SHADOW_RESULTS, 0) for route in ROUTES}
    for family in families:
        if family.name != "portal_shadow_runs":
            continue
        for sample in family.samples:
            if not sample.name.endswith("_total"):
                continue
            route, result = sample.labels.get("route"), sample.labels.get("result")
            if route in results and result in results[route]:
                results[route][result] += int(sample.value)
    return results


def wait_until_killed(service: FlagService, flags: Sequence[str], started: float, limit: float,
                      clock: Callable[[], float] = time.perf_counter, pause: Callable[[float], None] = time.sleep) -> float | None:
    """Seconds from `started` until this worker's decisions see every one of `flags` killed (None past `limit`)."""
    while True:
        snapshot = service.snapshot()
        if all((status := snapshot.get(name)) is not None and status.killed for name in flags):
            return clock() - started
        if clock() - started > limit:
            return None
        pause(0.01)


def rollback_limit(service: FlagService) -> float:
    """How long a rollback waits for the workers to see it before answering (seconds)."""
    return max(5.0, 3 * service.ttl)


def wait_until_every_worker(service: FlagService, multiprocess_dir: str | None, states: Sequence[FlagState],
                            started: float, limit: float) -> Propagation:
    """Seconds from `started` until every live worker decides from at least the `states` written."""
    return wait_until_seen(read_worker_versions(service, multiprocess_dir), {s.name: s.version for s in states},
                           started, limit, multiprocess_dir=bool(multiprocess_dir))


@dataclass(frozen=True)
class RollbackReach:
    """How a rollback reached the workers: written, seen by the serving worker, by every worker."""

    written: float
    seen: float | None  # the serving worker's decisions (None past the limit)
    limit: float
    every_worker: Propagation


def measure_rollback(service: FlagService, multiprocess_dir: str | None, states: Sequence[FlagState],
                     started: float) -> RollbackReach:
    """After `service.rollback` (begun at `started`) wrote `states`: the timings the page and the API report."""
    written = time.perf_counter() - started
    limit = rollback_limit(service)
    seen = wait_until_killed(service, [s.name for s in states], started, limit=limit)
    return RollbackReach(written, seen, limit, wait_until_every_worker(service, multiprocess_dir, states, started, limit))
