"""Upload pages and endpoints: routed (`/upload`, `/upload_staged`) and pinned to one path."""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass

from flask import Blueprint, flash, g, jsonify, make_response, redirect, render_template, request, url_for

from app.compose import current_services
from app.ingest import intake
from app.ingest.errors import DatabaseUnavailable
from app.ingest.models import utcnow
from app.ingest.outcome import (
    DIRECT,
    FILE_ERROR,
    ORIGINAL,
    PROCESSING_ERROR,
    REFACTORED,
    STAGED,
    Failure,
    Outcome,
    Upload,
)
from app.ingest.persistence import record_upload
from app.web.respond import status_for, wants_json
from app.web.users import current_user

log = logging.getLogger(__name__)
PATH_HEADER = "X-Ingest-Path"
PINNED = "pinned"  # the decision reason recorded for an upload to a URL pinned to one path


@dataclass(frozen=True)
class UploadEndpoint:
    """One upload URL: its workflow (direct or staged) and its path (None: routed per user)."""

    rule: str
    name: str
    route: str
    path: str | None

    def path_for(self, user: str) -> tuple[str, str]:
        """(path, why): the pinned path, or the router's choice for `user` and its reason."""
        if self.path:
            return self.path, PINNED
        choice = current_services().router.choose(self.route, user)
        return choice.path, choice.reason


ENDPOINTS = (
    UploadEndpoint("/upload", "upload", DIRECT, None),
    UploadEndpoint("/upload_staged", "upload_staged", STAGED, None),
    UploadEndpoint("/upload_original", "upload_original", DIRECT, ORIGINAL),
    UploadEndpoint("/upload_staged_original", "upload_staged_original", STAGED, ORIGINAL),
    UploadEndpoint("/upload_refactored", "upload_refactored", DIRECT, REFACTORED),
    UploadEndpoint("/upload_staged_refactored", "upload_staged_refactored", STAGED, REFACTORED),
)
BY_NAME = {endpoint.name: endpoint for endpoint in ENDPOINTS}


def sector_change(outcome: Outcome) -> dict | None:
    """{"from", "to"} when a direct upload switched the incidence's stored sector (a warning)."""
    before = (outcome.base_misc_json or {}).get("sector")
    if outcome.route != DIRECT or not outcome.success or before in (None, "") or before == outcome.sector:
        return None
    return {"from": before, "to": outcome.sector}


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
        "warnings": [str(w) for w in outcome.warnings],
        "warning_details": [w.as_dict() for w in outcome.warnings],
        "upload_id": outcome.upload_id,
        "sector_change": sector_change(outcome),
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
            if outcome.warnings:
                flash(f"{len(outcome.warnings)} value(s) in this upload could not be taken as typed; "
                      "they are listed below.", "warning")
            switched = sector_change(outcome)
            if switched:
                flash(f"This upload changed the incidence's sector from {switched['from']} to {switched['to']}. "
                      "If that is a mistake, upload the form for the right sector.", "warning")
            response = redirect(url_for("incidences.incidence_update", id_incidence=outcome.id_incidence), 303)
        else:
            flash(f"Upload staged for review as {outcome.staged_filename}.", "success")
            if outcome.warnings:
                flash(f"{len(outcome.warnings)} value(s) in this upload could not be taken as typed; "
                      "they are listed below.", "warning")
            response = redirect(url_for("staged.review_staged", id_incidence=outcome.id_incidence,
                                        filename=outcome.staged_filename), 303)
    else:
        response = make_response(render_template("upload.html", route=outcome.route, endpoint=endpoint, outcome=outcome), status)
    response.headers[PATH_HEADER] = outcome.path
    return response


def reject(route: str, path: str, failure: Failure, endpoint: str, started: float | None = None,
           reason: str | None = None):
    """Answer an upload refused before a path ran (no file field, too large), and record it."""
    services = current_services()
    try:
        record_upload(services.db, filename="", saved_name=None, route=route, ingest_path=path,
                      user=current_user(), size=0, sha256=None, status="rejected", description=failure.message,
                      error_type=failure.error_type, now=utcnow(), decision_reason=reason, started=started)
    except DatabaseUnavailable:
        log.warning("could not record a rejected upload: %s", failure.message)
    outcome = Outcome.failed(path, route, failure)
    services.metrics.observe_upload(outcome, time.perf_counter() - (started or time.perf_counter()))
    return respond(outcome, endpoint)


def handle_upload(endpoint: UploadEndpoint):
    """GET: the upload form. POST: run the chosen path on the uploaded file."""
    user = current_user()  # on a first visit this sets the anonymous id cookie
    route = endpoint.route
    if request.method == "GET":
        return render_template("upload.html", route=route, endpoint=endpoint.name, outcome=None)
    started = g.upload_started = time.perf_counter()
    services = current_services()
    path, reason = endpoint.path_for(user)
    file = request.files.get("file")
    if file is None:
        return reject(route, path, Failure(FILE_ERROR, "no_file", "no file was sent: choose a feedback form workbook to upload"),
                      endpoint.name, started, reason)
    try:
        data = file.read()
    finally:
        file.close()  # large uploads are spooled to a temporary file
    upload = Upload(data, file.filename or "", user, request.form.get("comments") or None, started=started,
                    decision=reason)
    try:
        outcome = services.paths[path].process(services.ingest, upload, route)
    except Exception:  # a bug: the file is already kept and recorded; tell the user plainly
        log.exception("unexpected error in the %s path", path)
        outcome = Outcome.failed(path, route, Failure(PROCESSING_ERROR, "internal_error",
                                                      "the upload could not be processed because of an internal error; it was kept and staff were notified"))
    intake.keep_warnings(services.ingest, outcome.upload_id, outcome.warnings)  # either path's, for the pages
    seconds = time.perf_counter() - started
    services.metrics.observe_upload(outcome, seconds)
    if endpoint.path is None:
        services.shadowing.after_upload(route, user, outcome, seconds, upload)
    return respond(outcome, endpoint.name)


def blueprint() -> Blueprint:
    """The upload pages, one URL rule per entry of `ENDPOINTS`."""
    bp = Blueprint("uploads", __name__)
    for endpoint in ENDPOINTS:
        bp.add_url_rule(endpoint.rule, endpoint.name, functools.partial(handle_upload, endpoint), methods=["GET", "POST"])
    return bp
