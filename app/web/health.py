"""Liveness and readiness."""

from __future__ import annotations

from flask import Blueprint, jsonify

from app.compose import current_services
from app.ingest.errors import DatabaseUnavailable

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The process is alive."""
    return jsonify({"ok": True})


@bp.get("/readyz")
def readyz():
    """The database and the flag store are reachable; 503 naming what is not."""
    services = current_services()
    checks = {}
    try:
        services.db.ping()
        checks["database"] = "ok"
    except DatabaseUnavailable as exc:
        checks["database"] = f"unreachable: {exc}"
    try:
        services.flags.ping()
        checks["flag_store"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any store failure means not ready
        checks["flag_store"] = f"unreachable: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
    ready = all(value == "ok" for value in checks.values())
    return jsonify({"ok": ready, **checks}), 200 if ready else 503
