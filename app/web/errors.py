"""Error handlers: too-large uploads are recorded and answered 413; other HTTP errors in kind."""

from __future__ import annotations

from flask import Flask, g, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from app.compose import current_services
from app.ingest.outcome import FILE_ERROR, Failure
from app.web import uploads
from app.web.respond import error_response
from app.web.users import current_user


JSON_API_PREFIXES = ("/admin/api/",)


def init_app(app: Flask) -> None:
    """Register the handlers."""

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(exc):
        limit_mb = current_services().settings.max_upload_bytes // (1024 * 1024)
        failure = Failure(FILE_ERROR, "too_large", f"the file is larger than the {limit_mb} MB upload limit; it was not stored")
        endpoint = uploads.BY_NAME.get((request.endpoint or "").removeprefix("uploads."))
        if endpoint is not None:
            path, reason = endpoint.path_for(current_user())
            # Started when the view began, if it did (the limit trips when it reads the form).
            return uploads.reject(endpoint.route, path, failure, endpoint.name, started=g.get("upload_started"),
                                  reason=reason)
        return error_response(413, failure.message, status=413)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        # The JSON APIs answer JSON for every status (a 405 or 404 included), whatever the client accepts.
        api = request.path.startswith(JSON_API_PREFIXES)
        response = error_response(exc.code or 500, exc.description or exc.name, api=api, status=exc.code or 500,
                                  **({"code": exc.name.lower().replace(" ", "_")} if api else {}))
        if exc.code == 405 and getattr(exc, "valid_methods", None):
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response
