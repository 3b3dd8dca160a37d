"""Liveness and readiness.

`/healthz` touches no dependency: it answers as long as the worker can run Python.
`/readyz` asks the database and the flag store at once and answers within
`Readiness.budget` (1.5 s) either way; 503 names what is not ready, never a host or port.
`status` is `degraded` (still 200: the instance serves) when the flag store lost its state
and decisions come from the last known state.
"""

from __future__ import annotations

from flask import Blueprint, jsonify

from app.compose import current_services

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The process is alive."""
    return jsonify({"ok": True})


@bp.get("/readyz")
def readyz():
    """The database and the flag store answer (within the budget); 503 naming what does not."""
    probe = current_services().readiness.probe()
    return jsonify({"ok": probe.ready, "status": probe.status, **probe.checks}), 200 if probe.ready else 503
