"""The staged review workflow: list, review, confirm, discard."""

from __future__ import annotations

from flask import Blueprint, flash, jsonify, make_response, redirect, render_template, request, url_for

from app.compose import current_services
from app.ingest import review as reviews
from app.ingest import staging
from app.ingest.errors import (
    DatabaseUnavailable,
    MalformedStaged,
    NotConfirmable,
    NothingConfirmed,
    StagedConflict,
    StagedNotFound,
)
from app.web.bodies import BadBody, json_object
from app.web.respond import database_unavailable, error_response, wants_json
from app.web.users import current_user

bp = Blueprint("staged", __name__)


def _staged_json(s: staging.StagedUpload) -> dict:
    return {
        "filename": s.filename, "id_incidence": s.id_incidence, "staged_at": s.staged_at.isoformat(),
        "staged_by": s.staged_by, "ingest_path": s.ingest_path, "sector": s.sector,
        "original_filename": s.original_filename,
    }


@bp.get("/list_staged")
def list_staged():
    """Staged uploads newest first; malformed files listed apart."""
    good, malformed = staging.list_staged(current_services().files)
    if wants_json():
        return jsonify({"staged": [_staged_json(s) for s in good],
                        "malformed": [{"filename": n, "reason": r} for n, r in malformed]})
    return render_template("list_staged.html", staged=good, malformed=malformed)


@bp.get("/review_staged/<int:id_incidence>/<filename>")
def review_staged(id_incidence: int, filename: str):
    """Field-by-field: stored value, staged value, and which changes need confirming."""
    try:
        review = reviews.load_review(current_services().ingest, id_incidence, filename)
    except StagedNotFound as exc:
        return error_response(404, str(exc))
    except MalformedStaged as exc:
        return error_response(422, f"the staged file cannot be read: {exc}")
    except DatabaseUnavailable as exc:
        return database_unavailable(exc, "try again in a minute")
    if wants_json():
        return jsonify({
            **_staged_json(review.staged), "stale": review.stale,
            "fields": [{"key": r.key, "old": r.old, "new": r.new, "changed": r.changed, "confirmable": r.confirmable}
                       for r in review.rows],
            "warnings": [w.as_dict() for w in review.warnings],
        })
    return render_template("review_staged.html", review=review)


def _confirmed_keys() -> list[str]:
    if request.is_json:
        body = json_object('{"confirm": ["field_name", ...]}')
        if body is None:
            raise BadBody('the request body is empty; send an object like {"confirm": ["field_name", ...]}')
        keys = body.get("confirm", [])
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise BadBody('"confirm" must be a list of field names, like {"confirm": ["facility_name"]}')
        return keys
    return request.form.getlist("confirm")


@bp.post("/confirm_staged/<int:id_incidence>/<filename>")
def confirm_staged(id_incidence: int, filename: str):
    """Apply the confirmed fields, unless the incidence changed since staging (409)."""
    ctx = current_services().ingest
    try:
        result = reviews.confirm(ctx, id_incidence, filename, _confirmed_keys(), current_user())
    except StagedNotFound as exc:
        return error_response(404, str(exc))
    except MalformedStaged as exc:
        return error_response(422, f"the staged file cannot be read: {exc}")
    except BadBody as exc:
        return error_response(400, str(exc))
    except NotConfirmable as exc:
        return error_response(422, str(exc))
    except NothingConfirmed as exc:
        if wants_json():
            return error_response(422, str(exc))
        return _review_again(ctx, id_incidence, filename, str(exc), 422)
    except StagedConflict:
        message = (f"incidence {id_incidence} was changed by someone else after this upload was staged; "
                   "nothing was saved. Review the upload again against the current data, or upload it anew.")
        if wants_json():
            return error_response(409, message, error_type="conflict")
        return _review_again(ctx, id_incidence, filename, message, 409)
    except DatabaseUnavailable as exc:
        return database_unavailable(exc, "nothing was saved; try again in a minute")
    if wants_json():
        return jsonify({"ok": True, "id_incidence": id_incidence, "applied": list(result.applied),
                        "changes": len(result.changes)})
    flash(f"Confirmed {len(result.applied)} field(s) from {filename}.", "success")
    return redirect(url_for("incidences.incidence_update", id_incidence=id_incidence), 303)


def _review_again(ctx, id_incidence: int, filename: str, message: str, status: int):
    """The review page again with `message` on top (the upload is still staged)."""
    try:
        review = reviews.load_review(ctx, id_incidence, filename)
    except (StagedNotFound, MalformedStaged, DatabaseUnavailable):
        return error_response(status, message)
    flash(message, "error")
    return make_response(render_template("review_staged.html", review=review), status)


@bp.post("/discard_staged_update/<int:id_incidence>/<filename>")
def discard_staged_update(id_incidence: int, filename: str):
    """Delete a staged upload without applying it."""
    try:
        reviews.discard(current_services().ingest, id_incidence, filename, current_user())
    except StagedNotFound as exc:
        return error_response(404, str(exc))
    if wants_json():
        return jsonify({"ok": True, "discarded": filename})
    flash(f"Discarded {filename}.", "success")
    return redirect(url_for("staged.list_staged"), 303)
