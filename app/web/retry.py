"""`POST /retry_upload/<id>`: staff re-process an `interrupted` upload from the page
(`/uploads` lists them; issue 14 point 6). The same operation as `harness uploads retry ID`
(`app.ingest.reconcile.retry`): idempotent, an upload is applied at most once."""

from __future__ import annotations

from flask import Blueprint, flash, jsonify, redirect, request, url_for

from app.compose import current_services
from app.ingest import intake
from app.ingest.errors import DatabaseUnavailable, NotRetryable
from app.ingest.reconcile import retry
from app.web.respond import database_unavailable, error_response, wants_json

bp = Blueprint("retry", __name__)
# Statuses no retry can change: nothing was kept to process again.
NEVER_RETRYABLE = {intake.REJECTED: "no file was kept", intake.FILE_MISSING: "its kept file is gone"}


def _back():
    """Where the staff member came from (the uploads page), else the uploads page."""
    target = request.referrer or ""
    if target.startswith(request.host_url):
        return redirect(target, 303)
    return redirect(url_for("recent_uploads.list_uploads"), 303)


@bp.post("/retry_upload/<int:upload_id>")
def retry_upload(upload_id: int):
    """Re-process an interrupted upload; 404 when there is none, 409 when its file is gone (or it
    is `rejected` or `file_missing`); any other status is answered as already settled."""
    services = current_services()
    try:
        result = retry(services.ingest, upload_id, services.paths)
    except NotRetryable as exc:
        status = 404 if "there is no upload" in str(exc) else 409
        return error_response(status, str(exc))
    except DatabaseUnavailable as exc:
        return database_unavailable(exc, "nothing was retried; try again in a minute")
    if result.already in NEVER_RETRYABLE:
        return error_response(409, f"upload {upload_id} cannot be retried: it is {result.already} "
                                   f"({NEVER_RETRYABLE[result.already]}); only an interrupted upload is processed again")
    outcome = result.outcome
    body = {"ok": result.already is not None or bool(outcome and outcome.success), "upload_id": upload_id,
            "already": result.already,
            "outcome": None if outcome is None else {
                "ok": outcome.success, "path": outcome.path, "route": outcome.route, "id_incidence": outcome.id_incidence,
                "staged_filename": outcome.staged_filename, "error_type": outcome.error_type,
                "error_message": outcome.error_message}}
    if wants_json():
        return jsonify(body)
    if result.already:
        flash(f"Upload {upload_id} needs no retry: it is {result.already}"
              f"{' (it was processed and refused)' if result.already == intake.FAILED else ''}.", "success")
    elif outcome.success and outcome.staged_filename:
        flash(f"Upload {upload_id} processed again and staged for review as {outcome.staged_filename}.", "success")
        return redirect(url_for("staged.review_staged", id_incidence=outcome.id_incidence,
                                filename=outcome.staged_filename), 303)
    elif outcome.success:
        flash(f"Upload {upload_id} processed again and saved to incidence {outcome.id_incidence}.", "success")
        return redirect(url_for("incidences.incidence_update", id_incidence=outcome.id_incidence), 303)
    else:
        flash(f"Upload {upload_id} processed again and refused: {outcome.error_message}", "error")
    return _back()
