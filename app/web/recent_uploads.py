"""`/uploads`: recent uploads with their status and error, newest first, filterable, paged."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template, request

from app.compose import current_services
from app.ingest import listing
from app.ingest.outcome import PATHS, ROUTES
from app.ingest import intake
from app.web.listing import kept_args, run_listing
from app.web.respond import error_response, wants_json

bp = Blueprint("recent_uploads", __name__)
# Every status an upload's record can have (app/ingest/intake.py draws how they follow):
# `interrupted` and `file_missing` are set by the reconciler of issue 17.
STATUSES = (intake.RECEIVED, intake.PROCESSED, intake.STAGED_STATUS, intake.CONFIRMED, intake.DISCARDED,
            intake.FAILED, intake.REJECTED, intake.INTERRUPTED, intake.FILE_MISSING)
# The statuses `POST /retry_upload/<id>` processes again (app.ingest.reconcile.retry); the
# page shows the retry button on these rows only.
RETRYABLE = (intake.INTERRUPTED,)


@bp.get("/uploads")
def list_uploads():
    """Recent uploads; `status`, `route` and `path` filter; `after` pages."""
    args = {k: request.args.get(k, "").strip() for k in ("status", "route", "path")}
    for name, allowed in (("status", STATUSES), ("route", ROUTES), ("path", PATHS)):
        if args[name] and args[name] not in allowed:
            return error_response(400, f"{name} must be one of {', '.join(allowed)}, not {args[name][:40]!r}")
    where = listing.UploadFilter(args["status"] or None, args["route"] or None, args["path"] or None)
    page, failed = run_listing(lambda after, limit: listing.list_uploads(current_services().db, where,
                                                                         after=after, limit=limit))
    if failed is not None:
        return failed
    if wants_json():
        return jsonify({"uploads": [{"id": r.id, "original_filename": r.original_filename, "status": r.status,
                                     "error_type": r.error_type, "description": r.description, "route": r.route,
                                     "path": r.ingest_path, "user": r.user, "id_incidence": r.id_incidence,
                                     "created_at": r.created_at.isoformat(), "has_warnings": bool(r.has_warnings)}
                                    for r in page.rows],
                        "next": page.next_cursor})
    return render_template("uploads.html", page=page, args=kept_args(args), statuses=STATUSES, routes=ROUTES,
                           paths=PATHS, retryable=RETRYABLE)
