"""`/metrics`: the Prometheus exposition (every gunicorn worker's values summed)."""

from __future__ import annotations

from flask import Blueprint, Response

from app.compose import current_services
from app.harness.metrics import exposition

bp = Blueprint("metrics", __name__)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@bp.get("/metrics")
def metrics_endpoint():
    """Prometheus text exposition (every worker's values under gunicorn)."""
    services = current_services()
    body = exposition(services.metrics, services.flag_collector, services.settings.metrics_dir,
                      services.portal_collector)
    return Response(body, content_type=CONTENT_TYPE)
