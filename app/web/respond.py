"""Answering HTML or JSON, and the HTTP status that fits each error."""

from __future__ import annotations

from flask import request

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
}


def status_for(error_code: str | None) -> int:
    """The HTTP status for a failure's `error_code`."""
    return STATUS_BY_CODE.get(error_code or "", 500)


def wants_json() -> bool:
    """True when the client asked for JSON (`Accept: application/json` preferred)."""
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes["application/json"] >= request.accept_mimetypes["text/html"]
