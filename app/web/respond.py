"""Answering HTML or JSON, the HTTP status that fits each error, and the one error answer.

Every error the web layer gives goes through `error_response`: a page (`error.html`) for
a browser, or JSON for a client that asked for it (`Accept: application/json`) and for
the admin APIs, always in one shape:

    {"ok": false, "error_message": TEXT, "error": CODE (when there is one), ...context}

The admin APIs also carry `message` (the same text), which their clients read since the
first release (docs/flags.md).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import jsonify, make_response, render_template, request

log = logging.getLogger(__name__)

# error_code -> HTTP status; anything unlisted is a server fault (500).
STATUS_BY_CODE = {
    "no_file": 400,
    "empty_file": 400,
    "too_large": 413,
    "not_a_workbook": 415,
    "legacy_or_encrypted": 415,
    "corrupt_workbook": 422,
    "unsafe_workbook": 422,
    "zip_bomb": 422,
    "xml_entities": 422,
    "too_many_cells": 422,
    "no_schema_sheet": 422,
    "no_schema_table": 422,
    "unknown_schema": 422,
    "missing_tab": 422,
    "unreadable_form": 422,
    "missing_id": 422,
    "invalid_id": 422,
    "conflict": 409,
    "database_unavailable": 503,
    "save_failed": 503,
    "staging_failed": 503,
    "injected_fault": 503,  # a rehearsal's injected failure (app/harness/faults.py)
}


def status_for(error_code: str | None) -> int:
    """The HTTP status for a failure's `error_code`."""
    return STATUS_BY_CODE.get(error_code or "", 500)


def wants_json() -> bool:
    """True when the client asked for JSON (`Accept: application/json` preferred)."""
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes["application/json"] >= request.accept_mimetypes["text/html"]


def error_response(http_status: int, message: str, *, code: str | None = None, api: bool = False, **context: Any):
    """The error answer: JSON for API clients (`api`) and clients asking for it, else the error page.

    A 401 carries the Bearer challenge of the admin APIs.
    """
    if api or wants_json():
        body: dict[str, Any] = {"ok": False, "error_message": message}
        if code is not None:
            body["error"] = code
        if api:
            body["message"] = message
        response = jsonify({**body, **context})
        response.status_code = http_status
    else:
        response = make_response(render_template("error.html", status=http_status, message=message), http_status)
    if http_status == 401 and api:
        response.headers["WWW-Authenticate"] = 'Bearer realm="harness-admin"'
    return response


def database_unavailable(exc: BaseException, consequence: str = "try again in a minute"):
    """The 503 for a database outage: a plain message for the user, the detail (which names the
    server's host and port) only in the log (issue 17)."""
    log.warning("the database is unavailable: %s", exc)
    return error_response(503, f"the database is unavailable; {consequence}")
