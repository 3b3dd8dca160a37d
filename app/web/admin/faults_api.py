"""The rehearsal faults JSON API under /admin/api/faults (bearer token; rw to change).

    GET    /admin/api/faults   the faults in force, where from ({"faults", "spec", "source", ...})
    PUT    /admin/api/faults   {"faults": {"refactored.direct.error_rate": 0.3}} or {"spec": "..."}
    DELETE /admin/api/faults   back to HARNESS_FAULTS

Only when fault injection is allowed (`HARNESS_FAULTS` set; never in production): else 404.
A change reaches every worker within a second (app/harness/faults.py).
"""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from app.compose import current_services
from app.harness.faults import Faults, FaultsError, parse_faults
from app.ingest.errors import DatabaseUnavailable
from app.web.admin.auth import api_error, require_token

bp = Blueprint("faults_admin", __name__, url_prefix="/admin/api/faults")


def _faults() -> Faults | None:
    return current_services().faults


def _off():
    return api_error(404, "faults_off", "fault injection is off (set HARNESS_FAULTS to allow it; never in production)")


@bp.get("")
@require_token(write=False)
def show():
    """The faults in force."""
    faults = _faults()
    return _off() if faults is None else jsonify(faults.current().to_dict())


@bp.put("")
@require_token(write=True)
def replace():
    """Put a new list of faults in force on every worker."""
    faults = _faults()
    if faults is None:
        return _off()
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not (isinstance(body.get("faults"), dict) or isinstance(body.get("spec"), str)):
        return api_error(400, "invalid_body", 'send {"faults": {"refactored.direct.error_rate": 0.3}} or {"spec": "..."}')
    try:
        wanted = body["faults"] if isinstance(body.get("faults"), dict) else parse_faults(body["spec"])
        return jsonify(faults.replace(wanted, actor=g.admin_actor).to_dict())
    except FaultsError as error:
        return api_error(400, "invalid_fault", str(error))
    except DatabaseUnavailable as error:
        return api_error(503, "database_unavailable", str(error))


@bp.delete("")
@require_token(write=True)
def reset():
    """Back to the environment's faults."""
    faults = _faults()
    if faults is None:
        return _off()
    try:
        return jsonify(faults.reset(actor=g.admin_actor).to_dict())
    except DatabaseUnavailable as error:
        return api_error(503, "database_unavailable", str(error))
