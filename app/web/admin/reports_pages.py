"""The admin reports page: the latest A/B report's verdict and figures, the full report, and a new one.

Reports are written by the same code as `harness report` (`app.harness.analysis`) into
`<instance>/reports/<UTC time>/` (ab-report.html, .json, .md). Making one reads every
upload in the window (about 9 s at a million records), so the button starts it in one
background thread and the page shows "running" until it is written; a second press while
one runs is refused (409), by any worker of the instance: the run is marked by a file
(`reports/.making`, created exclusively, naming the span and the worker's pid) that every
worker reads, and a marker whose worker died or that is older than an hour is stale.
Only the files in those folders are served, by fixed names.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import time
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
REPORT_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
                 "form-action 'none'; frame-ancestors 'none'")


MARKER = ".making"
STALE_SECONDS = 3600


class _Job:
    """The report this worker is making, and how this worker's last one ended."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.last_error: str | None = None
        self.thread: threading.Thread | None = None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_span(folder: Path) -> str | None:
    """The span of the report some worker of this instance is making, or None (a stale marker is removed)."""
    marker = folder / MARKER
    try:
        claim = json.loads(marker.read_text())
        span, pid, started = claim["span"], int(claim["pid"]), float(claim["started"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        span, pid, started = None, 0, 0.0  # half written or foreign: judged by its age below
        try:
            started = marker.stat().st_mtime
        except OSError:
            return None
    if (pid and not _alive(pid)) or time.time() - started > STALE_SECONDS:
        marker.unlink(missing_ok=True)
        return None
    return span if span in SPANS else "1h"


def _claim(folder: Path, span: str) -> bool:
    """Mark a report as being made; False when another worker's run holds the marker."""
    running_span(folder)  # clears a stale marker first
    try:
        fd = os.open(folder / MARKER, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as handle:
        json.dump({"span": span, "pid": os.getpid(), "started": time.time()}, handle)
    return True


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
        (out.parent / MARKER).unlink(missing_ok=True)


@bp.get("/reports")
@require_admin()
def reports_page():
    """The latest report's verdict and key figures, a link to it in full, and the button for a new one."""
    job = _job()
    folder = reports_dir()
    latest = _latest(folder)
    return _page("reports.html", latest=latest, running=running_span(folder), last_error=job.last_error,
                 spans=SPANS)


@bp.post("/reports")
@require_admin(write=True)
def new_report():
    """Start making a report over the chosen window in the background (one at a time)."""
    span = request.form.get("span", "")
    if span not in SPANS:
        return _page("message.html", 400, title="No report started",
                     message=f"choose a window: {', '.join(SPANS)}; nothing was started")
    job = _job()
    folder = reports_dir()
    folder.mkdir(parents=True, exist_ok=True)
    with job.lock:
        if not _claim(folder, span):
            running = running_span(folder) or span
            return _page("message.html", 409, title="No report started",
                         message=f"a report over {SPANS[running]} is being made; wait for it")
    now = dt.datetime.now(dt.timezone.utc)
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
    response = send_from_directory(reports_dir() / name, filename)
    if filename.endswith(".html"):
        # The report is a static page with its own inline <style> and inline SVG plots: let those
        # render, and allow nothing else (no script, no request to anywhere, no form).
        response.headers["Content-Security-Policy"] = REPORT_POLICY
    return response
