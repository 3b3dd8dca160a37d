"""`/metrics` and the wiring of metrics and the router into the app."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, current_app

from app.metrics import FlagCollector, Metrics, exposition
from app.router import Router
from app.shadowing import Shadowing
from shadow import MismatchStore

bp = Blueprint("monitoring", __name__)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def init_app(app: Flask) -> None:
    """Build the metrics and the router on the app's flag service; register `/metrics`."""
    flags = app.extensions["flags"]
    metrics = Metrics()
    flags.add_fallback_hook(metrics.count_fallback)
    app.extensions["metrics"] = metrics
    app.extensions["flag_collector"] = FlagCollector(lambda: flags)
    app.extensions["router"] = Router(flags, metrics)
    portal = app.extensions["portal"]
    app.extensions["shadowing"] = Shadowing(app.config["HARNESS"], portal.ingest, flags, metrics,
                                            MismatchStore(portal.db.engine))
    app.register_blueprint(bp)


def current_metrics() -> Metrics:
    """The current app's metrics."""
    return current_app.extensions["metrics"]


def current_shadowing() -> Shadowing:
    """The current app's shadow runs."""
    return current_app.extensions["shadowing"]


def current_router() -> Router:
    """The current app's router."""
    return current_app.extensions["router"]


@bp.get("/metrics")
def metrics_endpoint():
    """Prometheus text exposition (every worker's values under gunicorn)."""
    body = exposition(current_app.extensions["metrics"], current_app.extensions["flag_collector"])
    return Response(body, content_type=CONTENT_TYPE)
