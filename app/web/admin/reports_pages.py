"""The admin reports page: the latest A/B report's verdict and figures, the full report, and a new one.

Reports are written by the same code as `harness report` (`app.harness.analysis`) into
`<instance>/reports/<UTC time>/` (ab-report.html, .json, .md). Making one reads every
upload in the window (about 9 s at a million records), so the button starts it in one
background thread and the page shows "running" until it is written; a second press while
one runs is refused (409). Only the files in those folders are served, by fixed names.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import threading
from pathlib import Path

from flask import abort, current_app, flash, g, redirect, request, send_from_directory, url_for

from app.compose import current_services
from app.web.admin.pages import _page, bp
from app.web.admin.session import require_admin

log = logging.getLogger(__name__)
SPANS = {"1h": "the last hour", "24h": "the last 24 hours", "7d": "the last 7 days"}
NAME = re.compile(r"^\d{8}T\d{6}Z$")
FILES = {"ab-report.html", "ab-report.json", "ab-report.md"}


class _Job:
    """The one report being made per app, and how the last one ended."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running: str | None = None  # the span, while a report is made
        self.last_error: str | None = None
        self.thread: threading.Thread | None = None


def _job() -> _Job:
    return current_app.extensions.setdefault("admin_reports_job", _Job())


def reports_dir() -> Path:
    """Where the admin keeps the reports it makes."""
    return Path(current_services().settings.instance_path) / "reports"


def _latest(folder: Path) -> tuple[str, dict] | None:
    if not folder.is_dir():
        return None
    for entry in sorted((p for p in folder.iterdir() if NAME.match(p.name)), reverse=True):
        try:
            return entry.name, json.loads((entry / "ab-report.json").read_text())
        except (OSError, ValueError):
            continue
    return None


def make_report(services, span: str, out: Path, now: dt.datetime) -> None:
    """Load the window's uploads, compare the paths and write the three files (as `harness report`)."""
    from app.harness.analysis import loading
    from app.harness.analysis.render import write_all
    from app.harness.analysis.report import build_report
    from app.harness.analysis.window import Window

    window = Window.since(span, now)
    samples = loading.load_samples(services.db.engine, window, None)
    mismatches = loading.load_mismatches(services.db.engine, window, None)
    percents = {r: loading.load_percent_history(services.flags, r, window) for r in samples}
    sources = {"database": services.db.engine.url.render_as_string(hide_password=True), "made_by": "admin page"}
    report = build_report(samples, window, now=now, percents=percents, mismatches=mismatches, sources=sources)
    partial = out.with_name(f".{out.name}.partial")
    write_all(report, partial)
    partial.rename(out)  # the page sees a report whole or not at all


def _run(job: _Job, services, span: str, out: Path, actor: str) -> None:
    try:
        make_report(services, span, out, dt.datetime.now(dt.timezone.utc))
        job.last_error = None
        log.info("admin report %s over %s made for %s", out.name, span, actor)
    except Exception as error:  # noqa: BLE001 - shown on the page, the thread must not die silently
        job.last_error = f"the report over {SPANS[span]} failed: {str(error).splitlines()[0] if str(error) else error!r}"
        log.exception("admin report failed")
    finally:
        with job.lock:
            job.running = None


@bp.get("/reports")
@require_admin()
def reports_page():
    """The latest report's verdict and key figures, a link to it in full, and the button for a new one."""
    job = _job()
    latest = _latest(reports_dir())
    return _page("reports.html", latest=latest, running=job.running, last_error=job.last_error, spans=SPANS)


@bp.post("/reports")
@require_admin(write=True)
def new_report():
    """Start making a report over the chosen window in the background (one at a time)."""
    span = request.form.get("span", "")
    if span not in SPANS:
        return _page("message.html", 400, title="No report started",
                     message=f"choose a window: {', '.join(SPANS)}; nothing was started")
    job = _job()
    with job.lock:
        if job.running is not None:
            return _page("message.html", 409, title="No report started",
                         message=f"a report over {SPANS[job.running]} is being made; wait for it")
        job.running = span
    now = dt.datetime.now(dt.timezone.utc)
    folder = reports_dir()
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / now.strftime("%Y%m%dT%H%M%SZ")
    job.thread = threading.Thread(target=_run, args=(job, current_services(), span, out, g.admin_actor),
                                  name="admin-report", daemon=True)
    job.thread.start()
    flash(f"Making a report over {SPANS[span]}; this page shows it when it is written.", "success")
    return redirect(url_for("admin_pages.reports_page"), 303)


@bp.get("/reports/<name>/<filename>")
@require_admin()
def report_file(name: str, filename: str):
    """One written report's file, by its folder's name and a fixed file name."""
    if not NAME.match(name) or filename not in FILES:
        abort(404)
    return send_from_directory(reports_dir() / name, filename)
