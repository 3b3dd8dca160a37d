"""What the portal must answer to each upload and review step, and the verdict on an answer.

Pure functions over plain data (status, served path, JSON body): the Locust file calls
them, the unit tests call them without Locust (whose gevent patching must stay out of
the pytest process).

A verdict is one of
- `ok`: the request did what it was meant to (200/201 upload, review, confirm, discard);
- `expected_error`: the portal refused the request, and refusing it is the right answer
  (a blank-id workbook, a PDF, a staged confirm that lost the race: 409 conflict);
- `failure`: anything else: a 5xx, a wrong status or error type, a wrong path, an
  unreadable body, no answer at all (connection error, timeout).
"""

from __future__ import annotations

from dataclasses import dataclass

OK = "ok"
EXPECTED_ERROR = "expected_error"
FAILURE = "failure"
VERDICTS = (OK, EXPECTED_ERROR, FAILURE)

ORIGINAL = "original"
REFACTORED = "refactored"
PATHS = (ORIGINAL, REFACTORED)

DIRECT = "direct"
STAGED = "staged"

# Kinds of file a load-test user sends.
GOOD = "good"
BAD_VALUES = "bad"          # wrong types, "Please Select", padded text: warnings, not errors
BLANK_ID = "blank_id"
NOT_WORKBOOK = "not_workbook"  # PDF, CSV, random bytes, an old .xls
KINDS = (GOOD, BAD_VALUES, BLANK_ID, NOT_WORKBOOK)


@dataclass(frozen=True)
class Verdict:
    """The judgement on one answer: ok, expected_error or failure, and why."""

    outcome: str
    reason: str = ""
    path: str | None = None  # the path that served an upload (X-Ingest-Path), when known

    @property
    def is_failure(self) -> bool:
        """True when the answer is not one the portal may give."""
        return self.outcome == FAILURE


@dataclass(frozen=True)
class Expected:
    """The answer an upload must get: status, and the error type when it is refused."""

    status: int
    error_type: str | None = None


def expected_upload(kind: str, route: str, path: str) -> Expected:
    """The answer `path` owes a `kind` file on `route` (see README, status table)."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind of file {kind!r}; one of {', '.join(KINDS)}")
    if path not in PATHS:
        raise ValueError(f"unknown path {path!r}")
    if kind in (GOOD, BAD_VALUES):
        return Expected(200 if route == DIRECT else 201)
    if kind == BLANK_ID:
        return Expected(422, "missing_id")
    # Not a workbook: the refactored path says so; the original keeps the legacy's coarse
    # "missing id" for everything it cannot read (app/ingest/parity.py).
    return Expected(415, "conversion_failed") if path == REFACTORED else Expected(422, "missing_id")


def _failure(reason: str, path: str | None = None) -> Verdict:
    return Verdict(FAILURE, reason, path)


def _no_answer(status: int, error: str | None) -> Verdict | None:
    if status == 0 or error:
        return _failure(f"no answer: {error or 'connection failed'}")
    if status >= 500:
        return _failure(f"server error {status}")
    return None


def classify_upload(
    kind: str,
    route: str,
    status: int,
    body: dict | None,
    *,
    header_path: str | None,
    pinned_path: str | None = None,
    id_incidence: int | None = None,
    error: str | None = None,
) -> Verdict:
    """Judge an upload's answer.

    `pinned_path` is the path a pinned endpoint must serve (None for the routed
    `/upload` and `/upload_staged`, where any path is right but must be named);
    `id_incidence` is the id the workbook carries, when the answer must echo it.
    """
    if (verdict := _no_answer(status, error)) is not None:
        return verdict
    if header_path not in PATHS:
        return _failure(f"X-Ingest-Path is {header_path!r}, not original or refactored")
    if pinned_path is not None and header_path != pinned_path:
        return _failure(f"pinned to {pinned_path} but served by {header_path}", header_path)
    if not isinstance(body, dict):
        return _failure(f"{status} without a JSON body", header_path)
    if body.get("path") != header_path:
        return _failure(f"body path {body.get('path')!r} differs from X-Ingest-Path {header_path!r}", header_path)
    if body.get("route") != route:
        return _failure(f"body route {body.get('route')!r}, expected {route!r}", header_path)
    expected = expected_upload(kind, route, header_path)
    if status != expected.status:
        got = f"{status} {body.get('error_type') or ''}".strip()
        return _failure(f"{kind} file on {header_path}: got {got}, expected {expected.status} "
                        f"{expected.error_type or ''}".rstrip(), header_path)
    if expected.error_type is None:
        if body.get("ok") is not True:
            return _failure(f"status {status} but ok={body.get('ok')!r}", header_path)
        if id_incidence is not None and body.get("id_incidence") != id_incidence:
            return _failure(f"id_incidence {body.get('id_incidence')!r}, the workbook has {id_incidence}", header_path)
        if route == STAGED and not body.get("staged_filename"):
            return _failure("staged upload answered without a staged_filename", header_path)
        return Verdict(OK, path=header_path)
    if body.get("ok") is not False or body.get("error_type") != expected.error_type:
        return _failure(f"{kind} file on {header_path}: {status} with error_type {body.get('error_type')!r}, "
                        f"expected {expected.error_type}", header_path)
    return Verdict(EXPECTED_ERROR, f"{status} {expected.error_type}", header_path)


def classify_review(status: int, body: dict | None, *, error: str | None = None) -> Verdict:
    """Judge `GET /review_staged/...` of a file this user staged: 200 with a list of fields."""
    if (verdict := _no_answer(status, error)) is not None:
        return verdict
    if status != 200:
        # Only the uploader touches its staged file, so it must still be there.
        return _failure(f"review answered {status}")
    if not isinstance(body, dict) or not isinstance(body.get("fields"), list):
        return _failure("review answered 200 without a fields list")
    return Verdict(OK)


def confirmable_keys(review_body: dict) -> list[str]:
    """The fields a review offers for confirmation (changed and non-empty)."""
    return [f["key"] for f in review_body.get("fields", []) if isinstance(f, dict) and f.get("confirmable")]


def classify_confirm(status: int, body: dict | None, *, error: str | None = None) -> Verdict:
    """Judge `POST /confirm_staged/...`: 200, or 409 conflict when another upload changed
    the incidence since staging (expected when many users share incidences)."""
    if (verdict := _no_answer(status, error)) is not None:
        return verdict
    body = body if isinstance(body, dict) else {}
    if status == 200 and body.get("ok") is True:
        return Verdict(OK)
    if status == 409 and body.get("error_type") == "conflict":
        return Verdict(EXPECTED_ERROR, "409 conflict")
    # 404 would mean the file this user staged vanished: nobody else handles it.
    return _failure(f"confirm answered {status} {body.get('error_message') or ''}".rstrip())


def classify_discard(status: int, body: dict | None, *, error: str | None = None) -> Verdict:
    """Judge `POST /discard_staged_update/...`: 200 (the file is this user's own)."""
    if (verdict := _no_answer(status, error)) is not None:
        return verdict
    body = body if isinstance(body, dict) else {}
    if status == 200 and body.get("ok") is True:
        return Verdict(OK)
    return _failure(f"discard answered {status} {body.get('error_message') or ''}".rstrip())
