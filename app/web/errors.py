"""Error pages: too-large uploads are recorded and answered 413; other HTTP errors in kind."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from app.ingest.outcome import FILE_ERROR, Failure
from app.web.respond import wants_json
from app.web.users import current_user


def init_app(app: Flask) -> None:
    """Register the handlers."""

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(exc):
        from app.web import uploads

        limit_mb = app.config["HARNESS"].max_upload_bytes // (1024 * 1024)
        failure = Failure(FILE_ERROR, "too_large", f"the file is larger than the {limit_mb} MB upload limit; it was not stored")
        name = (request.endpoint or "").removeprefix("uploads.")
        if name in uploads.ENDPOINTS:
            route, pinned = uploads.ENDPOINTS[name]
            path = pinned or uploads.choose_path(route, current_user())
            return uploads._reject(route, path, failure, name, started=None)
        return _error(413, failure.message)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return _error(exc.code or 500, exc.description or exc.name)


def _error(status: int, message: str):
    if wants_json():
        return jsonify({"ok": False, "error_message": message, "status": status}), status
    return render_template("error.html", status=status, message=message), status
