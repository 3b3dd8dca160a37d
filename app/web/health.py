"""Liveness and readiness."""

from __future__ import annotations

from flask import Blueprint, jsonify

from app.db import DatabaseUnavailable
from app.portal import current_portal

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The process is alive."""
    return jsonify({"ok": True})


@bp.get("/readyz")
def readyz():
    """The database is reachable (and, once wired, the flag store); 503 with the reason otherwise."""
    try:
        current_portal().db.ping()
    except DatabaseUnavailable as exc:
        return jsonify({"ok": False, "database": f"unreachable: {exc}"}), 503
    return jsonify({"ok": True, "database": "ok"})
