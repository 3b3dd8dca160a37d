"""The flag admin JSON API under /admin/api/flags.

Bearer tokens come from `settings.admin_tokens` (HARNESS_ADMIN_TOKENS), each with an
actor name written to the audit log; there is no default token, so with none configured
every request is refused. A missing or wrong token answers 401, a read-only token trying
to write 403. Views only translate HTTP to `flags.FlagService` calls.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from flask import Blueprint, g, jsonify, request
from werkzeug.exceptions import HTTPException

from app.compose import current_services
from app.web.admin import readings
from app.web.bodies import BadBody, json_object
from app.web.admin.auth import api_error as _error
from app.web.admin.auth import require_token as _require_token
from flags import FlagError, FlagService, InvalidValue, StoreUnavailable, UnknownFlag

__all__ = ["bp", "flag_service"]

bp = Blueprint("flag_admin", __name__, url_prefix="/admin/api/flags")


def flag_service() -> FlagService:
    """The current app's flag service."""
    return current_services().flags


# -- authentication ----------------------------------------------------------------------


def _body() -> dict[str, Any]:
    try:
        return json_object('{"reason": "..."}') or {}
    except BadBody as exc:
        raise InvalidValue(request.data[:100], str(exc)) from None


def _reason(data: dict[str, Any]) -> str | None:
    reason = data.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise InvalidValue(reason, "reason must be a string")
    return reason


# -- errors ------------------------------------------------------------------------------


@bp.errorhandler(FlagError)
def _flag_error(error: FlagError):
    if isinstance(error, UnknownFlag):
        return _error(404, "unknown_flag", str(error), known=list(error.known))
    if isinstance(error, InvalidValue):
        return _error(400, f"invalid_{error.field}", str(error))
    if isinstance(error, StoreUnavailable):
        return _error(503, "store_unavailable", "the flag store is unavailable; nothing was changed")
    return _error(400, "flag_error", str(error))


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException):
    return _error(error.code or 500, error.name.lower().replace(" ", "_"), error.description or error.name)


# -- reads -------------------------------------------------------------------------------


@bp.get("")
@_require_token(write=False)
def list_flags():
    """Every flag's state."""
    service = flag_service()
    return jsonify({"flags": [state.to_dict() for state in service.list_flags()], "propagation_seconds": service.ttl})


@bp.get("/history")
@_require_token(write=False)
def history():
    """The audit log, newest first; filters: flag, actor, action, since (ISO), limit."""
    args = request.args
    since = args.get("since")
    try:
        since_at = datetime.fromisoformat(since) if since else None
    except ValueError:
        raise InvalidValue(since, f"since must be an ISO date or time, got {since!r}") from None
    limit = args.get("limit", "50")
    if not limit.isdigit():
        raise InvalidValue(limit, "limit must be a whole number from 1 to 1000")
    entries = flag_service().history(
        flag=args.get("flag"), actor=args.get("actor"), action=args.get("action"), since=since_at, limit=int(limit)
    )
    return jsonify({"entries": [entry.to_dict() for entry in entries]})


@bp.get("/<name>")
@_require_token(write=False)
def show_flag(name: str):
    """One flag's state."""
    return jsonify({"flag": flag_service().get(name).to_dict()})


# -- writes ------------------------------------------------------------------------------


@bp.put("/<name>/percent")
@_require_token(write=True)
def set_percent(name: str):
    """Set the rollout percent: {"percent": 25, "reason": "..."}."""
    data = _body()
    if "percent" not in data:
        raise InvalidValue(None, "percent is required")
    state = flag_service().set_percent(name, data["percent"], actor=g.flag_actor, reason=_reason(data))
    return jsonify({"flag": state.to_dict()})


def _users(data: dict[str, Any]) -> list[Any]:
    users = data.get("users")
    if not isinstance(users, list) or not users:
        raise InvalidValue(users, "users must be a non-empty list of user ids")
    return users


@bp.post("/<name>/<any(allow, deny, unallow, undeny):verb>")
@_require_token(write=True)
def change_list(name: str, verb: str):
    """Add or remove users on the allow or deny list: {"users": [...], "reason": "..."}."""
    data = _body()
    method = getattr(flag_service(), verb)
    state = method(name, _users(data), actor=g.flag_actor, reason=_reason(data))
    return jsonify({"flag": state.to_dict()})


@bp.post("/<name>/kill")
@_require_token(write=True)
def kill(name: str):
    """Kill switch: {"reason": "..."} (required)."""
    data = _body()
    state = flag_service().kill(name, actor=g.flag_actor, reason=_reason(data) or "")
    return jsonify({"flag": state.to_dict(), "propagation_seconds": flag_service().ttl})


@bp.post("/<name>/resume")
@_require_token(write=True)
def resume(name: str):
    """Lift the kill switch: {"reason": "..."} (optional)."""
    data = _body()
    state = flag_service().resume(name, actor=g.flag_actor, reason=_reason(data))
    return jsonify({"flag": state.to_dict()})


@bp.post("/rollback")
@_require_token(write=True)
def rollback():
    """Kill every refactored flag at once: {"reason": "..."} (required)."""
    data = _body()
    service = flag_service()
    started = time.perf_counter()
    states = service.rollback(actor=g.flag_actor, reason=_reason(data) or "")
    reach = readings.measure_rollback(service, current_services().settings.metrics_dir, states, started)
    # `workers`: every live gunicorn worker of this instance (1: this process only, no metrics folder);
    # other instances are bounded by their refresh (propagation_seconds).
    return jsonify({"flags": [state.to_dict() for state in states], "propagation_seconds": service.ttl,
                    "written_seconds": round(reach.written, 4),
                    "seen_by_this_worker_seconds": None if reach.seen is None else round(reach.seen, 4),
                    "limit_seconds": reach.limit, **reach.every_worker.to_dict()})
