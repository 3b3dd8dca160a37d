"""Run the controller: a loop for `harness rollout run`, a daemon thread inside `harness serve`.

Every gunicorn worker of every instance starts one thread (from `app.gunicorn_conf`'s
`post_worker_init`, after the fork); they all tick, and the database lease lets exactly
one act. When the holder dies its lease expires (`lease_s`) and another takes over from
the persisted state. A clean stop releases the lease at once.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import uuid

from app.harness.rollout.controller import Controller
from app.harness.rollout.source import DatabaseSource
from app.harness.rollout.store import SqlStore

log = logging.getLogger(__name__)


def utc_now() -> dt.datetime:
    """The wall clock, in UTC (the controller's clock outside simulations)."""
    return dt.datetime.now(dt.UTC)


def holder_name(kind: str) -> str:
    """`<host>:<pid>:<kind>:<random>`: who holds the lease, unique per controller."""
    return f"{socket.gethostname()}:{os.getpid()}:{kind}:{uuid.uuid4().hex[:6]}"


def gate_source(engine, prometheus_url: str | None = None):
    """Where the gates read: Prometheus when a URL is given, else the portal's database."""
    if prometheus_url:
        from app.harness.rollout.prometheus_source import PrometheusSource

        return PrometheusSource(prometheus_url)
    return DatabaseSource(engine)


def build_controller(engine, flags, *, kind: str, lease_s: float, on_decision=None,
                     prometheus_url: str | None = None) -> Controller:
    """A controller on the portal's database (its state) and flag service, with the wall clock;
    the gates read Prometheus when `prometheus_url` is given."""
    return Controller(SqlStore(engine), flags, gate_source(engine, prometheus_url), utc_now, holder=holder_name(kind),
                      lease_s=lease_s, on_decision=on_decision)


def lease_for(interval_s: float) -> float:
    """A lease outlives two missed ticks, but not many: three intervals, at least 5 s."""
    return max(5.0, 3.0 * interval_s)


class ControllerThread:
    """Ticks a controller every `interval_s` seconds in a daemon thread until stopped."""

    def __init__(self, controller: Controller, interval_s: float) -> None:
        self.controller = controller
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rollout-controller", daemon=True)

    def start(self) -> ControllerThread:
        """Start ticking."""
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.controller.tick()
            except Exception as exc:  # noqa: BLE001 - the database away: try again next tick, never die
                log.warning("rollout controller tick failed: %s", exc)
            self._stop.wait(self.interval_s)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop ticking and release the lease."""
        self._stop.set()
        self._thread.join(timeout)
        try:
            self.controller.release()
        except Exception as exc:  # noqa: BLE001 - shutting down: the lease expires anyway
            log.warning("rollout controller could not release its lease: %s", exc)


def start_in_worker(services) -> ControllerThread | None:
    """The controller thread of one portal worker (None when HARNESS_ROLLOUT_INTERVAL_S=0)."""
    interval = services.settings.rollout_interval_s
    if interval <= 0:
        return None
    controller = build_controller(services.db.engine, services.flags, kind="serve", lease_s=lease_for(interval),
                                  prometheus_url=services.settings.rollout_prometheus_url)
    log.info("rollout controller thread started (every %s s, lease %s)", interval, controller.holder)
    return ControllerThread(controller, interval).start()
