"""Same page, either path: the whole parity corpus goes through both paths over HTTP, each on
its own portal, and every page a user sees (the answer to the upload, where it redirects,
the incidence page with its history, the review page, the page after confirming) must be
the same once ids and times are normalised, except the parts app/ingest/parity.py lists
in PAGE_DIFFERENCES with their reason."""

from __future__ import annotations

import difflib
import re

import pytest

from app import create_app
from app.compose import services_of
from app.ingest.parity import PAGE_DIFFERENCES
from loadtests.multipart import encode_multipart
from tests.conftest import _sqlite_url, make_settings
from tests.ingest.test_parity import CORPUS

USER = {"X-Portal-User": "parity-user"}
NORMALISE = (
    (re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d(?::\d\d)? P[SD]T"), "<time>"),
    (re.compile(r"id_(\d+)_ts_\d{8}_\d{6}_\d{6}(?:_\d+)?\.json"), r"id_\1_ts_<stamp>.json"),
    (re.compile(r"(upload #|Upload #|kept as )\d+"), r"\1<id>"),
    (re.compile(r"\d{8}_\d{6}_\d{6}_[\w.-]+"), "<saved name>"),
    # per session and per request: the CSRF token and the style nonce (app/web/security.py)
    (re.compile(r'(name="csrf_token" value="|name="csrf-token" content=")[^"]+"'), r'\1<csrf>"'),
    (re.compile(r'nonce="[^"]+"'), 'nonce="<nonce>"'),
)
UPLOAD_ERROR = re.compile(r'<div class="muted upload-error" data-error-type="(\w*)">.*?</div>', re.S)
INGEST_PATH = re.compile(r'<span class="ingest-path">\w+</span>')
ERROR_BOX = re.compile(r'<div class="error-box" role="alert">.*?Error type: (\w+)\..*?</div>\s*</div>', re.S)
# The warnings box and the /uploads "warnings" badge: may be on one side only (field-warnings).
FIELD_WARNINGS = re.compile(r'\s*<div class="warn" role="status">\s*<strong>Also, these values could not be taken as typed '
                            r'\(\d+\)</strong>.*?</ul>\s*</div>| <span class="status" title="some values could not be taken as '
                            r'typed">warnings</span>', re.S)


def normalise(html: str) -> str:
    """The page with ids and times replaced by placeholders."""
    for pattern, placeholder in NORMALISE:
        html = pattern.sub(placeholder, html)
    return html


def _portal(tmp_path, sqlite_template, path):
    """A portal whose router sends every user to `path` (users post to /upload, /upload_staged)."""
    folder = tmp_path / path
    folder.mkdir()
    app = create_app(settings=make_settings(folder, _sqlite_url(folder, sqlite_template), trust_user_header=True))
    app.config["TESTING"] = True
    percent = 100 if path == "refactored" else 0
    for flag in ("refactored_upload", "refactored_staged_upload"):
        services_of(app).flags.set_percent(flag, percent, actor="test")
    return app


def _confirmable(html: str) -> list[str]:
    return re.findall(r'name="confirm" value="([^"]+)"', html)


def _visit(client, path: str, route: str, name: str, data: bytes) -> list[tuple[str, int, str, str]]:
    """(step, status, where it ended, page) for one upload and what a user does next."""
    url = "/upload" if route == "direct" else "/upload_staged"
    body, content_type = encode_multipart(data, f"{name}.xlsx", comments=None)
    answer = client.post(url, data=body, content_type=content_type, headers=USER, follow_redirects=True)
    assert answer.history[0].headers["X-Ingest-Path"] == path if answer.history else answer.headers["X-Ingest-Path"] == path
    steps = [("upload", answer.status_code, answer.request.path, answer.get_data(as_text=True))]
    if route == "staged" and answer.request.path.startswith("/review_staged/"):
        keys = _confirmable(steps[0][3])
        target = answer.request.path.replace("/review_staged/", "/confirm_staged/")
        confirmed = client.post(target, data={"confirm": keys}, headers=USER, follow_redirects=True)
        steps.append(("confirm", confirmed.status_code, confirmed.request.path, confirmed.get_data(as_text=True)))
    for _, _, where, _ in list(steps):
        if where.startswith("/incidence_update/"):
            steps.append(("uploads list", 200, "/uploads", client.get("/uploads?per_page=5", headers=USER).get_data(as_text=True)))
            break
    return [(step, status, normalise(where), normalise(page)) for step, status, where, page in steps]


def _explained(original: str, refactored: str) -> list[str] | None:
    """The PAGE_DIFFERENCES parts that explain why two pages differ (None: they do not)."""
    a, b = ERROR_BOX.search(original), ERROR_BOX.search(refactored)
    types = (a.group(1), b.group(1)) if a and b else (None, None)
    parts = {"error-box": ERROR_BOX, "ingest-path": INGEST_PATH}
    used = []
    rows_a, rows_b = list(UPLOAD_ERROR.finditer(original)), list(UPLOAD_ERROR.finditer(refactored))
    for difference in [d for d in PAGE_DIFFERENCES if d.part == "upload-error"]:
        if rows_a and len(rows_a) == len(rows_b) and all(
                x.group(0) == y.group(0) or difference.applies(x.group(1), y.group(1)) for x, y in zip(rows_a, rows_b)):
            original, refactored = UPLOAD_ERROR.sub("<upload-error>", original), UPLOAD_ERROR.sub("<upload-error>", refactored)
            used.append(difference.part)
    for difference in [d for d in PAGE_DIFFERENCES if d.part == "field-warnings"]:
        row_types = [(x.group(1), y.group(1)) for x, y in zip(rows_a, rows_b)]
        if (FIELD_WARNINGS.search(original) or FIELD_WARNINGS.search(refactored)) and (
                difference.applies(*types) or any(difference.applies(*t) for t in row_types)):
            # the box leaves its own white space behind on one side only
            original, refactored = (re.sub(r"\s+", " ", FIELD_WARNINGS.sub("", page)) for page in (original, refactored))
            used.append(difference.part)
    for difference in [d for d in PAGE_DIFFERENCES if d.part not in ("upload-error", "field-warnings")]:
        pattern = parts[difference.part]
        if pattern.search(original) and pattern.search(refactored) and difference.applies(*types):
            original, refactored = pattern.sub(f"<{difference.part}>", original), pattern.sub(f"<{difference.part}>", refactored)
            used.append(difference.part)
    return used if used and original == refactored else None


@pytest.mark.slow
@pytest.mark.parametrize("route", ["direct", "staged"])
def test_every_page_of_the_parity_corpus_reads_the_same_on_both_paths(tmp_path, sqlite_template, route):
    portals = {path: _portal(tmp_path, sqlite_template, path) for path in ("original", "refactored")}
    clients = {path: app.test_client() for path, app in portals.items()}
    unexplained, explained, compared = [], 0, 0
    try:
        for name, data in CORPUS:
            seen = {path: _visit(clients[path], path, route, name, data) for path in portals}
            # the same steps, each ending on the same page (redirects followed)
            assert [s[::2] for s in seen["original"]] == [s[::2] for s in seen["refactored"]], name
            for (step, status_a, _, a), (_, status_b, _, b) in zip(seen["original"], seen["refactored"]):
                compared += 1
                if (status_a, a) == (status_b, b):
                    continue
                if _explained(a, b):
                    explained += 1
                    continue
                unexplained.append((name, step, _diff(a, b)))
    finally:
        for app in portals.values():
            services_of(app).db.dispose()
    print(f"\n{route}: {compared} pages compared, {explained} differ only as PAGE_DIFFERENCES says")
    assert compared >= len(CORPUS)
    for name, step, lines in unexplained:
        print(f"{name} ({step}):\n{lines}")
    assert unexplained == []


def test_the_normalising_touches_only_ids_and_times():
    page = ('staged 2026-12-03 02:31 PST · <span class="mono">id_77_ts_20261203_103148_740608.json</span> '
            "(upload #12) incidence 77 · 3 field(s)")
    assert normalise(page) == ('staged <time> · <span class="mono">id_77_ts_<stamp>.json</span> '
                               "(upload #<id>) incidence 77 · 3 field(s)")


def test_every_page_difference_gives_its_reason():
    assert all(len(d.reason) > 40 and d.part for d in PAGE_DIFFERENCES)


def _diff(a: str, b: str) -> str:
    """The lines that differ (original -, refactored +)."""
    return "\n".join(list(difflib.unified_diff(a.splitlines(), b.splitlines(), lineterm="", n=0))[:30])


def test_a_difference_outside_the_list_is_not_explained():
    box = '<div class="error-box" role="alert">{}<div class="muted">Error type: {}.</div>\n  </div>'
    coarse = box.format("No valid incidence id", "missing_id"), box.format("The file is a PDF", "file_error")
    assert _explained(*coarse) == ["error-box"]
    assert _explained(box.format("Database error", "database_error"), box.format("The database is down", "database_error")) is None
    assert _explained("<p>Confirmed 3 field(s)</p>", "<p>Confirmed 2 field(s)</p>") is None
