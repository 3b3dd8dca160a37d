"""The stored incidence, where a direct upload lands."""

from __future__ import annotations

from flask import Blueprint, jsonify, make_response, redirect, render_template, url_for
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from app.models import Incidence, PortalUpdate
from app.portal import current_portal
from app.web.respond import wants_json

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
        with current_portal().db.session() as session:
            incidence = session.get(Incidence, id_incidence)
            history = session.execute(
                select(PortalUpdate).where(PortalUpdate.id_incidence == id_incidence)
                .order_by(PortalUpdate.id.desc()).limit(HISTORY_ROWS)
            ).scalars().all()
    except SQLAlchemyError as exc:
        message = f"the database is unavailable: {str(exc).splitlines()[0]}"
        if wants_json():
            return jsonify({"ok": False, "error_message": message}), 503
        return make_response(render_template("error.html", status=503, message=message), 503)
    if incidence is None:
        message = f"incidence {id_incidence} does not exist"
        if wants_json():
            return jsonify({"ok": False, "error_message": message}), 404
        return make_response(render_template("error.html", status=404, message=message), 404)
    if wants_json():
        return jsonify({
            "id_incidence": incidence.id_incidence, "sector": incidence.sector, "misc_json": incidence.misc_json,
            "updated_at": incidence.updated_at.isoformat(), "updated_by": incidence.updated_by,
            "history": [{"timestamp": h.timestamp.isoformat(), "key": h.key, "old_value": h.old_value,
                         "new_value": h.new_value, "user": h.user, "comments": h.comments} for h in history],
        })
    return render_template("incidence.html", incidence=incidence, history=history)
