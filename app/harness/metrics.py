"""Prometheus metrics: what ops watch while users move from the original path to the refactored one.

Every series that can exist is created at start with value 0, so a rate over a new
series is never "no data". Label values come from small fixed sets: never a user id, a
file name or a message.

Which outcomes count as errors: every unsuccessful upload is `outcome="error"`; its
`error_type` says whose fault it was. `file_error`, `conversion_failed`, `missing_id`,
`validation_error` and `conflict` are the user's file or action being refused
(client-side, 4xx); `database_error` and `processing_error` are the portal failing
(server-side, 5xx). Alerts compare the server-side error rate of the two paths and watch
the rejection rate separately (ops/prometheus/rules.yml).

Several gunicorn workers: `harness serve` points PROMETHEUS_MULTIPROC_DIR at an emptied
folder before the workers start; each worker writes its values there and `/metrics`
reads them all with a fresh registry per scrape. Flag gauges are computed at scrape time
from the flag store (they are not per-worker state). A dead worker's files are marked by
gunicorn's `child_exit` hook (`app/gunicorn_conf.py`).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import fields

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from app.harness.names import (
    AUTOMATIC_ACTORS,
    DECISIONS,
    RECONCILE_ACTIONS,
    FALLBACK_SOURCES,
    ROLLBACK_TRIGGERS,
    ROLLOUT_ACTOR,
    ROLLOUT_ROLLBACK,
    ROUTE_FLAGS,
    UPLOAD_ERROR_TYPES,
)
from app.ingest.outcome import PATHS, PROCESSING_ERROR, ROUTES, Outcome
from app.ingest.parity import VOLATILE_FIELDS
from flags.names import ALL_FLAGS

# Uploads take milliseconds (refactored) to a few hundred milliseconds (original, large forms).
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Outcome fields a shadow mismatch can name (the bounded `field` label): all but the volatile ones.
SHADOW_FIELDS = tuple(f.name for f in fields(Outcome) if f.name not in VOLATILE_FIELDS)
SHADOW_RESULTS = ("match", "mismatch", "ignored", "error", "timeout", "skipped")
log = logging.getLogger(__name__)


class Metrics:
    """The portal's metrics on one registry (tests pass a fresh one and read values back)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.requests = Counter("portal_ingest_requests", "Uploads by route, path and outcome",
                                ["route", "path", "outcome", "error_type"], registry=r)
        self.duration = Histogram("portal_ingest_duration_seconds", "Upload handling time",
                                  ["route", "path"], buckets=DURATION_BUCKETS, registry=r)
        self.decisions = Counter("portal_route_decisions", "Routed uploads by flag decision",
                                 ["flag", "path", "reason"], registry=r)
        self.fallbacks = Counter("portal_flag_fallbacks", "Flag decisions made without fresh store state",
                                 ["flag", "source"], registry=r)
        self.shadow_runs = Counter("portal_shadow_runs", "Shadow runs of the other path by result",
                                   ["route", "primary", "result"], registry=r)
        self.shadow_duration = Histogram("portal_shadow_duration_seconds", "Shadow run time of the candidate path",
                                         ["route", "path"], buckets=DURATION_BUCKETS, registry=r)
        self.shadow_fields = Counter("portal_shadow_field_mismatches", "Shadow mismatches by outcome field",
                                     ["route", "field"], registry=r)
        self.reconciled = Counter("portal_uploads_reconciled", "Upload records the reconciler wrote or fixed, by action",
                                  ["action"], registry=r)
        # Per worker (a `pid` label under gunicorn; a dead worker's series go with its files).
        self.seen_version = Gauge("portal_flag_seen_version", "Flag state version this worker's decisions use",
                                  ["flag"], multiprocess_mode="liveall", registry=r)
        for action in RECONCILE_ACTIONS:
            self.reconciled.labels(action)
        for route in ROUTES:
            for path in PATHS:
                self.requests.labels(route, path, "success", "none")
                for error_type in UPLOAD_ERROR_TYPES:
                    self.requests.labels(route, path, "error", error_type)
                self.duration.labels(route, path)
                self.shadow_duration.labels(route, path)
                for result in SHADOW_RESULTS:
                    self.shadow_runs.labels(route, path, result)
        for route in ROUTES:
            for name in SHADOW_FIELDS:
                self.shadow_fields.labels(route, name)
        for flag in ROUTE_FLAGS.values():
            for path, reasons in DECISIONS.items():
                for reason in reasons:
                    self.decisions.labels(flag, path, reason)
        for flag in ALL_FLAGS:
            for source in FALLBACK_SOURCES:
                self.fallbacks.labels(flag, source)

    def observe_upload(self, outcome: Outcome, seconds: float) -> None:
        """Count one upload and its duration."""
        error_type = outcome.error_type if outcome.error_type in UPLOAD_ERROR_TYPES else PROCESSING_ERROR
        self.requests.labels(outcome.route, outcome.path, "success" if outcome.success else "error",
                             "none" if outcome.success else error_type).inc()
        self.duration.labels(outcome.route, outcome.path).observe(seconds)

    def count_decision(self, flag: str, path: str, reason: str) -> None:
        """Count one routing decision."""
        self.decisions.labels(flag, path, reason).inc()

    def count_shadow(self, result) -> None:
        """Count one shadow run by result, its candidate's duration and the mismatched fields."""
        self.shadow_runs.labels(result.route, result.control.path, result.kind).inc()
        if result.kind not in ("skipped", "timeout"):
            self.shadow_duration.labels(result.route, result.candidate.path).observe(result.candidate.duration)
        for name in {d.top for d in result.mismatched}:
            if name in SHADOW_FIELDS:
                self.shadow_fields.labels(result.route, name).inc()

    def count_reconciled(self, report) -> None:
        """Count what one reconcile pass did (journalled files recorded, uploads interrupted, records fixed)."""
        self.reconciled.labels("recorded").inc(len(report.journals_recorded))
        self.reconciled.labels("interrupted").inc(len(report.interrupted))
        self.reconciled.labels("fixed").inc(len(report.fixed))

    def publish_seen_versions(self, versions: dict[str, int]) -> None:
        """Set this worker's `portal_flag_seen_version` for every known flag (0: not read yet)."""
        for flag in ALL_FLAGS:
            self.seen_version.labels(flag).set(versions.get(flag, 0))

    def count_fallback(self, flag: str, source: str) -> None:
        """Count a flag decision made from last-known state or the safe default."""
        if flag in ALL_FLAGS and source in FALLBACK_SOURCES:
            self.fallbacks.labels(flag, source).inc()


class FlagCollector(Collector):
    """Flag gauges and the rollback count, read from the flag service at scrape time."""

    def __init__(self, service_getter: Callable[[], object], ttl: float = 5.0) -> None:
        self._service = service_getter
        self._ttl = ttl
        self._rollbacks: tuple[float, dict] = (0.0, {})

    def _rollback_counts(self, service) -> dict:
        cached_at, counts = self._rollbacks
        if time.monotonic() - cached_at < self._ttl:
            return counts
        counts = {}
        try:
            # Kills are rare; the audit log answers at most its 1,000 newest per query.
            for entry in service.history(action="kill", limit=1000):
                trigger = "guard" if entry.actor in AUTOMATIC_ACTORS else "manual"
                counts[(entry.flag, trigger)] = counts.get((entry.flag, trigger), 0) + 1
            # The rollout controller's step-back rollbacks lower the percent instead of killing.
            for entry in service.history(action="percent", actor=ROLLOUT_ACTOR, limit=1000):
                if (entry.reason or "").startswith(ROLLOUT_ROLLBACK):
                    counts[(entry.flag, "guard")] = counts.get((entry.flag, "guard"), 0) + 1
        except Exception as exc:  # the store is down: keep the last counts (a counter must not drop)
            log.warning("rollback count unavailable: %s", exc)
            return self._rollbacks[1]
        self._rollbacks = (time.monotonic(), counts)
        return counts

    def collect(self) -> Iterable:
        """Yield the flag gauges and the rollback counter."""
        service = self._service()
        percent = GaugeMetricFamily("portal_flag_rollout_percent", "Rollout percent of each flag", labels=["flag"])
        enabled = GaugeMetricFamily("portal_flag_enabled", "1 when the flag can turn on for someone (not killed)", labels=["flag"])
        rollbacks = CounterMetricFamily("portal_rollbacks", "Kill-switch activations from the flag audit log "
                                        "(the same on every instance: aggregate with max)", labels=["flag", "trigger"])
        snapshot = service.snapshot()
        for status in snapshot.flags:
            percent.add_metric([status.name], status.percent)
            enabled.add_metric([status.name], 1.0 if status.enabled else 0.0)
        counts = self._rollback_counts(service)
        for flag in ROUTE_FLAGS.values():
            for trigger in ROLLBACK_TRIGGERS:
                rollbacks.add_metric([flag, trigger], counts.get((flag, trigger), 0))
        yield percent
        yield enabled
        yield rollbacks


class PortalCollector(Collector):
    """Gauges read at scrape time, touching no dependency: the upload folder's free space,
    the `interrupted` count from this process's last reconcile pass, and whether the flag
    store lost its state."""

    def __init__(self, free_space: Callable[[], tuple[int, int]], last_report: Callable[[], object],
                 flag_loss: Callable[[], tuple[str, ...]] = lambda: ()) -> None:
        self._free_space = free_space
        self._last_report = last_report
        self._flag_loss = flag_loss

    def collect(self) -> Iterable:
        """Yield the free-space and interrupted-upload gauges."""
        free = GaugeMetricFamily("portal_upload_folder_free_bytes", "Free bytes on the upload folder's file system")
        ratio = GaugeMetricFamily("portal_upload_folder_free_ratio", "Free fraction of the upload folder's file system")
        try:
            available, total = self._free_space()
            free.add_metric([], available)
            ratio.add_metric([], available / total if total else 0.0)
        except OSError as exc:
            log.warning("upload folder free space unavailable: %s", exc)
        yield free
        yield ratio
        report = self._last_report()
        interrupted = GaugeMetricFamily("portal_uploads_interrupted", "Uploads in status interrupted at the last "
                                        "reconcile pass (the same on every instance: aggregate with max)")
        if report is not None:
            interrupted.add_metric([], report.interrupted_now)
        yield interrupted
        lost = GaugeMetricFamily("portal_flag_store_lost", "1 while the flag store has lost state this process knew "
                                 "(decisions use the last known state)")
        lost.add_metric([], 1.0 if self._flag_loss() else 0.0)
        yield lost


def exposition(metrics: Metrics, flag_collector: FlagCollector, multiprocess_dir: str | None = None,
               portal_collector: PortalCollector | None = None) -> bytes:
    """The text exposition: every worker's values from `multiprocess_dir` when set, else this registry's."""
    registry = CollectorRegistry()
    if multiprocess_dir:
        multiprocess.MultiProcessCollector(registry, path=multiprocess_dir)
    else:
        registry.register(_Forward(metrics.registry))
    registry.register(flag_collector)
    if portal_collector is not None:
        registry.register(portal_collector)
    return generate_latest(registry)


class _Forward(Collector):
    """Expose another registry's metrics through this one."""

    def __init__(self, source: CollectorRegistry) -> None:
        self._source = source

    def collect(self) -> Iterable:
        """Yield the source registry's metric families."""
        return self._source.collect()


def prepare_multiprocess_dir(path) -> str:
    """Empty (or create) the folder workers write their values to; returns it."""
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):
        if name.endswith(".db"):
            os.remove(os.path.join(path, name))
    return str(path)


def mark_worker_dead(pid: int, multiprocess_dir: str | None) -> None:
    """gunicorn `child_exit`: drop a dead worker's live-gauge files (its counters stay summed)."""
    if multiprocess_dir:
        multiprocess.mark_process_dead(pid, path=multiprocess_dir)


__all__ = ["FlagCollector", "Metrics", "PortalCollector", "exposition", "mark_worker_dead", "prepare_multiprocess_dir"]
