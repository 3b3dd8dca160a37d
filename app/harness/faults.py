"""Fault injection for rehearsals: make one path fail or slow down, on purpose.

    HARNESS_FAULTS=refactored.direct.error_rate=0.3,refactored.direct.delay_ms=200

Each fault is `<path>.<route>.<kind>=<value>`: path `original|refactored`, route
`direct|staged`, kind `error_rate` (a share of uploads, 0..1, that fail as a server-side
`processing_error`, recorded like any failure, the file kept) or `delay_ms` (added before
the path runs, so it counts in the upload's duration). Off by default: with
`HARNESS_FAULTS` unset nothing here is built and uploads pay nothing. Set (even empty) it
allows injection; `HARNESS_ENV=production` refuses to start with it (app/config.py).

Every worker reads the faults in force from the `harness_faults` table (at most once a
second), so `PUT /admin/api/faults` changes them on every worker and instance sharing the
database. The table empty means the environment's faults; once the API has set a list,
that list (even an empty one) is in force until it is reset.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import SQLAlchemyError

from app.ingest import intake
from app.ingest.context import IngestContext
from app.ingest.database import Database
from app.ingest.errors import DatabaseUnavailable
from app.ingest.models import HarnessFault, utcnow
from app.ingest.outcome import DATABASE_ERROR, PATHS, PROCESSING_ERROR, ROUTES, STORAGE_ERROR, Failure, Outcome, Upload

log = logging.getLogger(__name__)
FAULTS = HarnessFault.__table__
ERROR_RATE = "error_rate"
DELAY_MS = "delay_ms"
KINDS = {ERROR_RATE: (0.0, 1.0), DELAY_MS: (0.0, 60_000.0)}
INJECTED_FAULT = "injected_fault"
INJECTED = Failure(PROCESSING_ERROR, INJECTED_FAULT,
                   "the upload could not be processed (a fault injected for a rehearsal); it was kept")
# The row that says "the API set this list" (so an emptied list is not the environment's).
_SET_BY_API = "_set"


class FaultsError(ValueError):
    """A fault specification is malformed; the message names the entry."""


@dataclass(frozen=True)
class Injection:
    """What to do to one upload: wait this long, then fail or run the path."""

    delay_seconds: float = 0.0
    fail: bool = False


NONE = Injection()


@dataclass(frozen=True)
class FaultSet:
    """The faults in force, where they come from (`environment` or `api`), and who set them."""

    values: Mapping[str, float]
    source: str = "environment"
    updated_by: str | None = None

    def injection(self, path: str, route: str, draw: float) -> Injection:
        """The injection for one upload on `path`/`route`, `draw` uniform in [0, 1)."""
        rate = self.values.get(f"{path}.{route}.{ERROR_RATE}", 0.0)
        delay = self.values.get(f"{path}.{route}.{DELAY_MS}", 0.0) / 1000.0
        return Injection(delay, draw < rate) if rate or delay else NONE

    def spec(self) -> str:
        """The faults written as `HARNESS_FAULTS` would take them."""
        return ",".join(f"{k}={v:g}" for k, v in sorted(self.values.items()))

    def to_dict(self) -> dict:
        """The JSON shape of the admin API."""
        return {"faults": dict(sorted(self.values.items())), "spec": self.spec(), "source": self.source,
                "updated_by": self.updated_by}


def check_fault(name: object, value: object) -> tuple[str, float]:
    """(name, value) of one fault, or `FaultsError` saying what is wrong."""
    parts = str(name).strip().split(".")
    if len(parts) != 3 or parts[0] not in PATHS or parts[1] not in ROUTES or parts[2] not in KINDS:
        raise FaultsError(f"{name!r} is not a fault: write <{'|'.join(PATHS)}>.<{'|'.join(ROUTES)}>."
                          f"<{'|'.join(KINDS)}>")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise FaultsError(f"{name}: {value!r} is not a number") from None
    low, high = KINDS[parts[2]]
    if not low <= number <= high:  # also refuses NaN
        raise FaultsError(f"{name}: {number:g} is outside {low:g}..{high:g}")
    return ".".join(parts), number


def parse_faults(spec: str) -> dict[str, float]:
    """`HARNESS_FAULTS` as {name: value}; raises `FaultsError` on a malformed entry."""
    faults: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, sep, value = item.partition("=")
        if not sep:
            raise FaultsError(f"{item!r}: write name=value, e.g. refactored.direct.error_rate=0.3")
        key, number = check_fault(name, value.strip())
        faults[key] = number
    return faults


class Faults:
    """The faults in force for this worker, read from the database at most every `ttl` seconds.

    A database that cannot be read keeps the last faults read (logged); injection never
    breaks an upload in any way other than the one asked for.
    """

    def __init__(self, db: Database, start: Mapping[str, float], *, ttl: float = 1.0,
                 rng: random.Random | None = None, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._db = db
        self._start = FaultSet(dict(start))
        self._ttl = ttl
        self._rng = rng or random.Random()
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._current = self._start
        self._read_at: float | None = None

    def current(self) -> FaultSet:
        """The faults in force (refreshed from the database when older than `ttl`)."""
        now = self._monotonic()
        if self._read_at is not None and now - self._read_at < self._ttl:
            return self._current
        with self._lock:
            if self._read_at is None or now - self._read_at >= self._ttl:
                try:
                    self._current = self._load()
                except SQLAlchemyError as exc:
                    log.warning("fault injection: could not read harness_faults (%s); keeping %s",
                                str(exc).splitlines()[0], self._current.spec() or "no faults")
                self._read_at = now
        return self._current

    def draw(self, path: str, route: str) -> Injection:
        """What to do to the next upload on `path`/`route`."""
        return self.current().injection(path, route, self._rng.random())

    def _load(self) -> FaultSet:
        with self._db.transaction() as conn:
            rows = conn.execute(select(FAULTS.c.name, FAULTS.c.value, FAULTS.c.updated_by)).all()
        if not any(name == _SET_BY_API for name, _, _ in rows):
            return self._start
        values = {name: value for name, value, _ in rows if name != _SET_BY_API}
        actor = next(by for name, _, by in rows if name == _SET_BY_API)
        return FaultSet(values, "api", actor)

    def replace(self, faults: Mapping[str, object], actor: str) -> FaultSet:
        """Put `faults` in force on every worker (checked first; raises `FaultsError`)."""
        checked = dict(check_fault(name, value) for name, value in faults.items())
        now = utcnow()
        rows = [{"name": k, "value": v, "updated_at": now, "updated_by": actor} for k, v in checked.items()]
        rows.append({"name": _SET_BY_API, "value": 1.0, "updated_at": now, "updated_by": actor})
        with _database_errors(), self._db.transaction(write=True) as conn:
            conn.execute(delete(FAULTS))
            conn.execute(insert(FAULTS), rows)
        log.warning("FAULT INJECTION changed by %s: %s", actor, FaultSet(checked).spec() or "no faults")
        return self._refreshed()

    def reset(self, actor: str) -> FaultSet:
        """Back to the environment's faults on every worker."""
        with _database_errors(), self._db.transaction(write=True) as conn:
            conn.execute(delete(FAULTS))
        log.warning("FAULT INJECTION reset by %s to the environment's: %s", actor, self._start.spec() or "no faults")
        return self._refreshed()

    def _refreshed(self) -> FaultSet:
        with self._lock:
            self._read_at = None
        return self.current()


@contextmanager
def _database_errors() -> Iterator[None]:
    try:
        yield
    except SQLAlchemyError as exc:
        raise DatabaseUnavailable(f"changing the faults: {str(exc).splitlines()[0]}") from exc


def injected_failure(ctx: IngestContext, upload: Upload, route: str, path: str) -> Outcome:
    """Fail `upload` as a server-side `processing_error`: the file kept and recorded as failed."""
    try:
        kept = intake.keep(ctx, upload, route, path)
    except intake.UploadNotRecorded as exc:
        return Outcome.failed(path, route, Failure(DATABASE_ERROR, "database_unavailable", str(exc)),
                              saved_filename=exc.saved.name)
    except OSError as exc:
        return Outcome.failed(path, route, Failure(STORAGE_ERROR, "save_failed", f"the file could not be stored ({exc})"))
    intake.mark_failed(ctx, kept.upload_id, INJECTED, started=upload.started)
    return Outcome.failed(path, route, INJECTED, upload_id=kept.upload_id, saved_filename=kept.saved.name)


@dataclass(frozen=True)
class FaultyPath:
    """An ingestion path with the faults in force applied to `process` (never to `evaluate`:
    a shadow run must not be what fails)."""

    name: str
    inner: object
    faults: Faults
    sleep: Callable[[float], None] = time.sleep

    def process(self, ctx: IngestContext, upload: Upload, route: str, kept=None) -> Outcome:
        """Wait and fail as injected, else run the path (`kept`: a retry's upload, passed through)."""
        upload = intake.timed(upload)
        injection = self.faults.draw(self.name, route)
        if injection.delay_seconds:
            self.sleep(injection.delay_seconds)
        if injection.fail:
            return injected_failure(ctx, upload, route, self.name)
        if kept is not None:
            return self.inner.process(ctx, upload, route, kept)  # type: ignore[attr-defined]
        return self.inner.process(ctx, upload, route)  # type: ignore[attr-defined]

    def evaluate(self, *args, **kwargs) -> Outcome:
        """The path's own `evaluate`, untouched."""
        return self.inner.evaluate(*args, **kwargs)  # type: ignore[attr-defined]


def with_faults(paths: Mapping[str, object], faults: Faults) -> dict[str, object]:
    """Each path wrapped so the faults in force apply to it."""
    return {name: FaultyPath(name, path, faults) for name, path in paths.items()}


def announce(faults: FaultSet, environment: str) -> None:
    """Say loudly, at start, that fault injection is on."""
    log.warning("FAULT INJECTION IS ON (HARNESS_FAULTS is set, HARNESS_ENV=%s): %s; "
                "uploads on those paths fail or slow down on purpose; PUT /admin/api/faults changes them",
                environment, faults.spec() or "no faults yet")


__all__ = ["FaultSet", "Faults", "FaultsError", "FaultyPath", "INJECTED_FAULT", "Injection", "announce",
           "check_fault", "injected_failure", "parse_faults", "with_faults"]
