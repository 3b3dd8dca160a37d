"""The stored incidence, where a direct upload lands."""

from __future__ import annotations

from flask import Blueprint, jsonify, redirect, render_template, url_for
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from app.compose import current_services
from app.ingest.models import Incidence, PortalUpdate
from app.web.respond import error_response, wants_json

bp = Blueprint("incidences", __name__)
HISTORY_ROWS = 200


@bp.get("/")
def index():
    """The portal's start page: the upload form."""
    return redirect(url_for("uploads.upload"))


@bp.get("/incidence_update/<int:id_incidence>")
def incidence_update(id_incidence: int):
    """An incidence's stored fields and its latest field changes."""
    try:
        with current_services().db.session() as session:
            incidence = session.get(Incidence, id_incidence)
            history = session.execute(
                select(PortalUpdate).where(PortalUpdate.id_incidence == id_incidence)
                .order_by(PortalUpdate.id.desc()).limit(HISTORY_ROWS)
            ).scalars().all()
    except SQLAlchemyError as exc:
        return error_response(503, f"the database is unavailable: {str(exc).splitlines()[0]}")
    if incidence is None:
        return error_response(404, f"incidence {id_incidence} does not exist")
    if wants_json():
        return jsonify({
            "id_incidence": incidence.id_incidence, "sector": incidence.sector, "misc_json": incidence.misc_json,
            "updated_at": incidence.updated_at.isoformat(), "updated_by": incidence.updated_by,
            "history": [{"timestamp": h.timestamp.isoformat(), "key": h.key, "old_value": h.old_value,
                         "new_value": h.new_value, "user": h.user, "comments": h.comments} for h in history],
        })
    return render_template("incidence.html", incidence=incidence, history=history)
