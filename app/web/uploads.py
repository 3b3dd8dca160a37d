"""Upload pages and endpoints: routed (`/upload`, `/upload_staged`) and pinned to one path."""

from __future__ import annotations

import logging
import time

from flask import Blueprint, flash, jsonify, make_response, redirect, render_template, request, url_for

from app.db import DatabaseUnavailable
from app.ingest.outcome import DIRECT, FILE_ERROR, ORIGINAL, PROCESSING_ERROR, REFACTORED, STAGED, Failure, Outcome, Upload
from app.ingest.paths import IMPLEMENTATIONS
from app.ingest.persistence import record_upload
from app.models import utcnow
from app.portal import current_portal
from app.web.monitoring import current_metrics, current_router, current_shadowing
from app.web.respond import status_for, wants_json
from app.web.users import current_user

bp = Blueprint("uploads", __name__)
log = logging.getLogger(__name__)
PATH_HEADER = "X-Ingest-Path"
# endpoint -> (route, pinned path or None when routed), filled by `_register`
ENDPOINTS: dict[str, tuple[str, str | None]] = {}


def choose_path(route: str, user: str) -> str:
    """The path serving a routed upload for `user`: the router's flag decision."""
    return current_router().choose(route, user).path


def outcome_body(outcome: Outcome) -> dict:
    """The JSON answer for an upload."""
    return {
        "ok": outcome.success,
        "path": outcome.path,
        "route": outcome.route,
        "id_incidence": outcome.id_incidence,
        "sector": outcome.sector,
        "staged_filename": outcome.staged_filename,
        "error_type": outcome.error_type,
        "error_code": outcome.error_code,
        "error_message": outcome.error_message,
        "warnings": list(outcome.warnings),
        "upload_id": outcome.upload_id,
    }


def respond(outcome: Outcome, endpoint: str):
    """JSON or HTML for an outcome, with the status that fits and the path header."""
    if outcome.success:
        status = 200 if outcome.route == DIRECT else 201
    else:
        status = status_for(outcome.error_code)
    if wants_json():
        response = jsonify(outcome_body(outcome))
        response.status_code = status
    elif outcome.success:
        if outcome.route == DIRECT:
            flash(f"Upload saved to incidence {outcome.id_incidence} ({len(outcome.changes)} field(s) changed).", "success")
            response = redirect(url_for("incidences.incidence_update", id_incidence=outcome.id_incidence), 303)
        else:
            flash(f"Upload staged for review as {outcome.staged_filename}.", "success")
            response = redirect(url_for("staged.review_staged", id_incidence=outcome.id_incidence,
                                        filename=outcome.staged_filename), 303)
    else:
        response = make_response(render_template("upload.html", route=outcome.route, endpoint=endpoint, outcome=outcome), status)
    response.headers[PATH_HEADER] = outcome.path
    return response


def _reject(route: str, path: str, failure: Failure, endpoint: str, started: float | None = None):
    """Answer an upload refused before a path ran (no file field, too large), and record it."""
    try:
        record_upload(current_portal().db, filename="", saved_name=None, route=route, ingest_path=path,
                      user=current_user(), size=0, sha256=None, status="rejected", description=failure.message,
                      error_type=failure.error_type, now=utcnow())
    except DatabaseUnavailable:
        log.warning("could not record a rejected upload: %s", failure.message)
    outcome = Outcome.failed(path, route, failure)
    current_metrics().observe_upload(outcome, time.perf_counter() - (started or time.perf_counter()))
    return respond(outcome, endpoint)


def handle_upload(route: str, path: str | None, endpoint: str):
    """GET: the upload form. POST: run the chosen path on the uploaded file."""
    user = current_user()  # on a first visit this sets the anonymous id cookie
    if request.method == "GET":
        return render_template("upload.html", route=route, endpoint=endpoint, outcome=None)
    started = time.perf_counter()
    routed = path is None
    path = path or choose_path(route, user)
    file = request.files.get("file")
    if file is None:
        return _reject(route, path, Failure(FILE_ERROR, "no_file", "no file was sent: choose a feedback form workbook to upload"),
                       endpoint, started)
    try:
        data = file.read()
    finally:
        file.close()  # large uploads are spooled to a temporary file
    upload = Upload(data, file.filename or "", user, request.form.get("comments") or None)
    try:
        outcome = IMPLEMENTATIONS[path].process(current_portal().ingest, upload, route)
    except Exception:  # a bug: the file is already kept and recorded; tell the user plainly
        log.exception("unexpected error in the %s path", path)
        outcome = Outcome.failed(path, route, Failure(PROCESSING_ERROR, "internal_error",
                                                      "the upload could not be processed because of an internal error; it was kept and staff were notified"))
    seconds = time.perf_counter() - started
    current_metrics().observe_upload(outcome, seconds)
    if routed:
        current_shadowing().after_upload(route, user, outcome, seconds, upload)
    return respond(outcome, endpoint)


def _register(rule: str, endpoint: str, route: str, path: str | None) -> None:
    def view():
        return handle_upload(route, path, endpoint)

    view.__name__ = endpoint
    view.__doc__ = f"{route} upload on {path or 'the routed'} path."
    bp.add_url_rule(rule, endpoint, view, methods=["GET", "POST"])
    ENDPOINTS[endpoint] = (route, path)


_register("/upload", "upload", DIRECT, None)
_register("/upload_staged", "upload_staged", STAGED, None)
_register("/upload_original", "upload_original", DIRECT, ORIGINAL)
_register("/upload_staged_original", "upload_staged_original", STAGED, ORIGINAL)
_register("/upload_refactored", "upload_refactored", DIRECT, REFACTORED)
_register("/upload_staged_refactored", "upload_staged_refactored", STAGED, REFACTORED)
