"""The composition root: every collaborator of the portal and the harness, built from `Settings`.

    settings ──> database ──> ingestion context (database, upload folders, workbook limits)
             └─> flag service ──> metrics (fallbacks counted) ──> router (OpenFeature client, metric hook)
                                                             └─> shadowing (candidate pool, mismatch store)
             └─> faults (rehearsals only: HARNESS_FAULTS set) ──> the ingestion paths, wrapped

`build_services` is the one place that decides what the app is made of; views reach the
result through `current_services()` (typed; no string keys), tests through
`services_of(app)`, and commands build just the parts they need with the `open_*`
functions below. Nothing here reads the environment: `Settings` did that.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from app.config import ConfigError, Settings
from app.harness.faults import Faults, FaultsError, announce, parse_faults, with_faults
from app.harness.metrics import FlagCollector, Metrics, PortalCollector
from app.harness.propagation import watch_versions
from app.harness.readiness import Readiness
from app.harness.reconciler import Reconciler
from app.harness.router import Router
from app.harness.shadowing import Shadowing
from app.ingest.context import IngestContext
from app.ingest.database import Database, DatabaseTimeouts
from app.ingest.files import FileStore
from app.ingest.implementations import IMPLEMENTATIONS, IngestionPath
from app.workbook.inspection import Limits
from flags import FileKnownState, FlagService, LossGuard, Refresh, StoreUnavailable, open_service
from shadow import MismatchStore

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger(__name__)
EXTENSION = "harness"


@dataclass(frozen=True)
class Services:
    """What the portal's views and the harness work with, built once per app."""

    settings: Settings
    db: Database
    files: FileStore
    ingest: IngestContext
    flags: FlagService
    metrics: Metrics
    flag_collector: FlagCollector
    router: Router
    shadowing: Shadowing
    readiness: Readiness
    reconciler: Reconciler
    portal_collector: PortalCollector
    # The paths uploads run through, by name (wrapped with the faults in rehearsals).
    paths: Mapping[str, IngestionPath] = field(default_factory=lambda: dict(IMPLEMENTATIONS))
    faults: Faults | None = None

    def close(self) -> None:
        """Stop background work and release connections (tests, shutdown)."""
        self.reconciler.close()
        self.shadowing.close()
        self.router.close()
        self.flags.close()
        self.db.dispose()


def workbook_limits(settings: Settings) -> Limits:
    """The upload guard's limits from the settings."""
    return Limits(
        max_decompressed_bytes=settings.max_decompressed_bytes,
        max_compression_ratio=settings.max_compression_ratio,
        max_cells=settings.max_cells,
        max_sheet_area=settings.max_sheet_area,
    )


def database_timeouts(settings: Settings) -> DatabaseTimeouts:
    """The deadlines of every database call, from the settings."""
    return DatabaseTimeouts(statement=settings.db_timeout, connect=settings.db_connect_timeout,
                            idle_in_transaction=settings.db_idle_in_transaction_timeout)


def open_database(settings: Settings) -> Database:
    """The portal's database (no connection is made until it is used)."""
    return Database(settings.database_url, database_timeouts(settings))


def open_files(settings: Settings) -> FileStore:
    """The upload folders, created if missing."""
    files = FileStore(settings.upload_folder, durable=settings.upload_fsync)
    files.ensure()
    return files


def open_flags(settings: Settings, refresh: str = Refresh.ON_REQUEST) -> FlagService:
    """The flag service on the configured store, with every known flag created (never reset).

    The portal passes `Refresh.BACKGROUND`: requests then never read the store, a thread
    of the process serving them does (flags.cache); commands keep the default.
    """
    service = open_service(settings.flag_store_url, refresh=refresh, store_timeout=settings.flag_store_timeout,
                           loss_guard=flag_loss_guard(settings))
    if getattr(service.store, "persistence_off", lambda: None)():
        log.warning("the Redis flag store keeps nothing across a restart (no RDB snapshot, no AOF): a restart resets "
                    "every flag to 0%; the portal notices and keeps the last known state, but turn persistence on "
                    "(docs/operations.md)")
    try:
        service.ensure_flags()
    except StoreUnavailable as error:
        # Start anyway: decisions fall back to the original path until the store is back.
        log.warning("flag store unavailable at start-up (%s); flags fall back safely", error)
    if refresh != Refresh.ON_REQUEST:
        service.reload()  # the first read happens here, at start-up, not on someone's upload
    return service


def open_faults(settings: Settings, db: Database) -> Faults | None:
    """The rehearsal faults when `HARNESS_FAULTS` is set, else None (refused in production)."""
    if settings.faults is None:
        return None
    if settings.is_production:
        raise ConfigError("HARNESS_FAULTS is refused when HARNESS_ENV=production (fault injection is for rehearsals)")
    try:
        faults = Faults(db, parse_faults(settings.faults))
    except FaultsError as error:
        raise ConfigError(f"HARNESS_FAULTS: {error}") from None
    announce(faults.current(), settings.environment)
    return faults


def flag_loss_guard(settings: Settings) -> LossGuard | None:
    """The flag-store loss guard, its last known state kept in the instance folder (none for
    memory://, which every process starts empty by design)."""
    if settings.flag_store_url.startswith("memory:"):
        return None
    return LossGuard(FileKnownState(settings.instance_path / "flag_state.json"))


def build_services(settings: Settings) -> Services:
    """Build every collaborator from `settings`, in dependency order."""
    db = open_database(settings)
    files = open_files(settings)
    limits = workbook_limits(settings)
    ingest = IngestContext(db, files, limits)
    flags = open_flags(settings, Refresh.BACKGROUND)
    metrics = Metrics()
    flags.add_fallback_hook(metrics.count_fallback)
    watch_versions(flags, metrics)
    router = Router(flags, metrics)
    shadowing = Shadowing(settings, limits, flags, metrics, MismatchStore(db.engine))
    readiness = Readiness({"database": db.ping, "flag_store": flags.ping, "flag_state": lambda: _flag_state(flags)})
    reconciler = open_reconciler(settings, ingest, metrics.count_reconciled)
    portal_collector = PortalCollector(files.free_space, lambda: reconciler.last_report, flags.store_loss)
    faults = open_faults(settings, db)
    paths = with_faults(IMPLEMENTATIONS, faults) if faults else dict(IMPLEMENTATIONS)
    return Services(settings, db, files, ingest, flags, metrics, FlagCollector(lambda: flags), router, shadowing,
                    readiness, reconciler, portal_collector, paths, faults)  # type: ignore[arg-type]


def _flag_state(flags: FlagService) -> str | None:
    """Readiness of the flag state: degraded (still serving, from the last known state) after a store loss."""
    lost = flags.store_loss()
    return f"degraded: the flag store lost its state ({'; '.join(lost)}); deciding from the last known state, run `harness flags restore`" if lost else None


def open_reconciler(settings: Settings, ingest: IngestContext, on_report=lambda report: None) -> Reconciler:
    """The upload reconciler (its thread starts only when asked: `app.wsgi` in each worker)."""
    return Reconciler(ingest, settings.interrupted_after, settings.reconcile_interval, on_report)


def attach(app: Flask, services: Services) -> None:
    """Make `services` the app's collaborators."""
    app.extensions[EXTENSION] = services


def services_of(app: Flask) -> Services:
    """The collaborators of `app`."""
    return app.extensions[EXTENSION]


def current_services() -> Services:
    """The collaborators of the app handling the current request (or CLI app context)."""
    from flask import current_app

    return services_of(current_app)
