"""The shadow admin JSON API under /admin/api/shadow (read-only, bearer token)."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from app.compose import current_services
from app.web.admin.auth import api_error, require_token

bp = Blueprint("shadow_admin", __name__, url_prefix="/admin/api/shadow")


def _store():
    return current_services().shadowing.store


def _route() -> str | None:
    route = request.args.get("route")
    return route if route in ("direct", "staged") else None


@bp.get("/summary")
@require_token(write=False)
def summary():
    """Total mismatches and counts per field."""
    return jsonify(_store().summary(_route()))


@bp.get("/mismatches")
@require_token(write=False)
def mismatches():
    """The newest mismatches (`?limit=`, `?route=`)."""
    try:
        limit = int(request.args.get("limit", 20))
    except ValueError:
        return api_error(400, "invalid_limit", "limit must be a whole number")
    return jsonify({"mismatches": [r.to_dict() for r in _store().recent(limit, _route())]})


@bp.get("/mismatches/<int:record_id>")
@require_token(write=False)
def mismatch(record_id: int):
    """One mismatch in full."""
    record = _store().get(record_id)
    if record is None:
        return api_error(404, "not_found", f"no mismatch #{record_id}")
    return jsonify(record.to_dict())
