"""`/uploads`: recent uploads with their status and error, newest first, filterable, paged."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify, render_template, request
from sqlalchemy.exc import SQLAlchemyError

from app.compose import current_services
from app.ingest import listing
from app.ingest.outcome import PATHS, ROUTES
from app.web.incidences import page_size_arg
from app.web.respond import error_response, wants_json

log = logging.getLogger(__name__)

bp = Blueprint("recent_uploads", __name__)
# How an upload's record ends (`received` until processing ends; `interrupted` when a crash
# left it there, set by the reconciler of issue 17).
STATUSES = ("received", "processed", "staged", "confirmed", "discarded", "failed", "rejected", "interrupted")


@bp.get("/uploads")
def list_uploads():
    """Recent uploads; `status`, `route` and `path` filter; `after` pages."""
    args = {k: request.args.get(k, "").strip() for k in ("status", "route", "path")}
    for name, allowed in (("status", STATUSES), ("route", ROUTES), ("path", PATHS)):
        if args[name] and args[name] not in allowed:
            return error_response(400, f"{name} must be one of {', '.join(allowed)}, not {args[name][:40]!r}")
    where = listing.UploadFilter(args["status"] or None, args["route"] or None, args["path"] or None)
    after = request.args.get("after") or None
    try:
        page = listing.list_uploads(current_services().db, where, after=after, limit=page_size_arg())
    except listing.BadCursor as exc:
        return error_response(400, str(exc))
    except SQLAlchemyError as exc:
        log.warning("listing: the database is unavailable: %s", exc)
        return error_response(503, "the database is unavailable; try again in a minute")
    if wants_json():
        return jsonify({"uploads": [{"id": r.id, "original_filename": r.original_filename, "status": r.status,
                                     "error_type": r.error_type, "description": r.description, "route": r.route,
                                     "path": r.ingest_path, "user": r.user, "id_incidence": r.id_incidence,
                                     "created_at": r.created_at.isoformat(), "has_warnings": bool(r.has_warnings)}
                                    for r in page.rows],
                        "next": page.next_cursor})
    kept = {k: v for k, v in args.items() if v}
    if after:
        kept["after"] = after
    return render_template("uploads.html", page=page, args=kept, statuses=STATUSES, routes=ROUTES, paths=PATHS)
