"""The rollout admin JSON API under /admin/api/rollout (read-only, bearer token).

    GET /admin/api/rollout          every flag's latest plan and the controller lease
    GET /admin/api/rollout/<flag>   that flag's latest plan and its decisions (`?limit=`, default 50)

Plans are started, paused and aborted with `harness rollout` (docs/rollout.md).
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from sqlalchemy.exc import SQLAlchemyError

from app.compose import current_services
from app.harness.rollout.plan import FLAG_ROUTES
from app.harness.rollout.store import SqlStore
from app.web.admin.auth import api_error, require_token

bp = Blueprint("rollout_admin", __name__, url_prefix="/admin/api/rollout")


def _store() -> SqlStore:
    return SqlStore(current_services().db.engine)


@bp.get("")
@require_token(write=False)
def plans():
    """The latest plan of each flag, and who holds the controller lease."""
    try:
        store = _store()
        latest = [store.latest(flag) for flag in FLAG_ROUTES]
        return jsonify({"plans": [s.to_dict() for s in latest if s is not None], "lease": store.lease()})
    except SQLAlchemyError as error:
        return api_error(503, "database_unavailable", str(error).splitlines()[0])


@bp.get("/<flag>")
@require_token(write=False)
def plan(flag: str):
    """One flag's latest plan and its decisions, newest first, with their evidence."""
    if flag not in FLAG_ROUTES:
        return api_error(404, "unknown_flag", f"unknown flag {flag!r}: plans run on {', '.join(FLAG_ROUTES)}")
    try:
        limit = int(request.args.get("limit", 50))
    except ValueError:
        return api_error(400, "invalid_limit", "limit must be a whole number")
    if not 1 <= limit <= 1000:
        return api_error(400, "invalid_limit", "limit must be from 1 to 1000")
    try:
        store = _store()
        state = store.latest(flag)
        decisions = store.decisions(flag, limit, plan_id=state.id) if state else []
        return jsonify({"plan": state.to_dict() if state else None, "decisions": [d.to_dict() for d in decisions],
                        "lease": store.lease()})
    except SQLAlchemyError as error:
        return api_error(503, "database_unavailable", str(error).splitlines()[0])
