"""Incidences: the list staff search (`/incidences`) and one stored incidence, where a direct upload lands."""

from __future__ import annotations

from flask import Blueprint, jsonify, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from app.compose import current_services
from app.forms import all_schemas
from app.ingest import field_warnings, listing
from app.ingest.models import Incidence, PortalUpdate
from app.web.listing import kept_args, run_listing
from app.web.respond import database_unavailable, error_response, wants_json

bp = Blueprint("incidences", __name__)
HISTORY_ROWS = 200
QUERY_LIMIT = 200  # characters of a search term


@bp.get("/")
def index():
    """The portal's start page: the upload form."""
    return redirect(url_for("uploads.upload"))


def _sectors() -> list[str]:
    return sorted({s.sector for s in all_schemas() if s.sector})


@bp.get("/incidences")
def list_incidences():
    """Incidences last updated first; search by id, sector or facility; paged."""
    args = {k: request.args.get(k, "").strip()[:QUERY_LIMIT] for k in ("id", "sector", "facility")}
    id_text = args["id"]
    if id_text and not (id_text.isdigit() and id_text.isascii() and len(id_text) <= 18):
        return error_response(400, f"the incidence id must be a whole number, not {id_text[:40]!r}")
    search = listing.IncidenceSearch(int(id_text) if id_text else None, args["sector"] or None, args["facility"] or None)
    page, failed = run_listing(lambda after, limit: listing.list_incidences(current_services().db, search,
                                                                            after=after, limit=limit))
    if failed is not None:
        return failed
    if wants_json():
        return jsonify({"incidences": [{"id_incidence": r.id_incidence, "sector": r.sector, "facility_name": r.facility_name,
                                        "updated_at": r.updated_at.isoformat(), "updated_by": r.updated_by} for r in page.rows],
                        "next": page.next_cursor})
    return render_template("incidences.html", page=page, args=kept_args(args), sectors=_sectors())


@bp.get("/incidence_update/<int:id_incidence>")
def incidence_update(id_incidence: int):
    """An incidence's stored fields, the warnings of its latest uploads, its latest field changes."""
    db = current_services().db
    try:
        with db.session() as session:
            incidence = session.get(Incidence, id_incidence)
            history = session.execute(
                select(PortalUpdate).where(PortalUpdate.id_incidence == id_incidence)
                .order_by(PortalUpdate.id.desc()).limit(HISTORY_ROWS)
            ).scalars().all()
        warned = listing.recent_warnings(db, id_incidence) if incidence is not None else ()
    except SQLAlchemyError as exc:
        return database_unavailable(exc)
    if incidence is None:
        return error_response(404, f"incidence {id_incidence} does not exist")
    uploads = [(u, field_warnings.from_record(u.warnings)) for u in warned]
    if wants_json():
        return jsonify({
            "id_incidence": incidence.id_incidence, "sector": incidence.sector, "misc_json": incidence.misc_json,
            "updated_at": incidence.updated_at.isoformat(), "updated_by": incidence.updated_by,
            "history": [{"timestamp": h.timestamp.isoformat(), "key": h.key, "old_value": h.old_value,
                         "new_value": h.new_value, "user": h.user, "comments": h.comments} for h in history],
            "upload_warnings": [{"upload_id": u.id, "warnings": [w.as_dict() for w in ws]} for u, ws in uploads],
        })
    return render_template("incidence.html", incidence=incidence, history=history, uploads=uploads)
