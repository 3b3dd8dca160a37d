"""The admin rollout and reports pages through the real app and database: plans, pause/resume/abort, reports."""

from __future__ import annotations

import pytest

from app import create_app
from app.compose import services_of
from app.config import AdminToken
from app.harness.rollout import operations
from app.harness.rollout.plan import Plan
from app.harness.rollout.runner import utc_now
from app.harness.rollout.store import SqlStore
from tests.conftest import make_settings

WRITE_TOKEN = "w" * 32
READ_TOKEN = "r" * 32
TOKENS = (AdminToken("alice", WRITE_TOKEN), AdminToken("viewer", READ_TOKEN, can_write=False))
FLAG = "refactored_upload"


@pytest.fixture
def app(tmp_path, database_url):
    application = create_app(settings=make_settings(tmp_path, database_url, admin_tokens=TOKENS))
    application.config["TESTING"] = True
    yield application
    job = application.extensions.get("admin_reports_job")
    if job is not None and job.thread is not None:
        job.thread.join(60)
    services_of(application).close()


def _client(app, token):
    client = app.test_client()
    assert client.post("/admin/login", data={"token": token}).status_code == 303
    return client


@pytest.fixture
def writer(app):
    return _client(app, WRITE_TOKEN)


@pytest.fixture
def viewer(app):
    return _client(app, READ_TOKEN)


def store(app) -> SqlStore:
    return SqlStore(services_of(app).db.engine)


def started(app):
    services = services_of(app)
    return operations.start(store(app), services.flags, Plan(FLAG), utc_now(), "dana")


def test_the_rollout_page_shows_each_plan_its_steps_state_and_history(app, writer):
    html = writer.get("/admin/rollout").get_data(as_text=True)
    assert "No plan yet." in html and f'id="start-{FLAG}"' in html
    started(app)
    html = writer.get("/admin/rollout").get_data(as_text=True)
    assert f'id="status-{FLAG}">running<' in html and "Current step</th><td>1 of" in html
    assert "at least 200 uploads per step" in html and "dana" in html and f'id="pause-{FLAG}"' in html


def test_a_writer_pauses_resumes_and_aborts_with_a_reason_and_a_confirmation(app, writer):
    started(app)
    response = writer.post(f"/admin/rollout/{FLAG}/pause")
    assert response.status_code == 303
    assert store(app).latest(FLAG).status == "paused"
    assert "plan paused" in writer.get("/admin/rollout").get_data(as_text=True)
    assert writer.post(f"/admin/rollout/{FLAG}/pause").status_code == 400  # already paused: refused, said why
    assert writer.post(f"/admin/rollout/{FLAG}/resume").status_code == 303
    assert store(app).latest(FLAG).status == "running"
    refused = writer.post(f"/admin/rollout/{FLAG}/abort", data={"reason": ""})
    assert refused.status_code == 400 and "a reason is required" in refused.get_data(as_text=True)
    asked = writer.post(f"/admin/rollout/{FLAG}/abort", data={"reason": "errors up"})
    assert asked.status_code == 200 and "Yes, abort the plan on" in asked.get_data(as_text=True)
    assert store(app).latest(FLAG).status == "running"  # asking changes nothing
    done = writer.post(f"/admin/rollout/{FLAG}/abort", data={"reason": "errors up", "confirm": "yes"})
    assert done.status_code == 303 and store(app).latest(FLAG).status == "aborted"
    actions = [(d.action, d.actor) for d in store(app).decisions(FLAG, 10)]
    assert actions[:4] == [("abort", "alice"), ("resume", "alice"), ("pause", "alice"), ("start", "dana")]
    assert "aborted by alice: errors up" in writer.get("/admin/rollout").get_data(as_text=True)


def test_a_writer_starts_a_plan_with_the_default_steps(app, writer):
    assert writer.post(f"/admin/rollout/{FLAG}/start").status_code == 303
    state = store(app).latest(FLAG)
    assert state.status == "running" and state.created_by == "alice"
    assert writer.post(f"/admin/rollout/{FLAG}/start").status_code == 400  # one active plan per flag
    assert writer.post("/admin/rollout/nope/pause").status_code == 404


def test_a_read_only_actor_sees_no_buttons_and_is_refused_403(app, viewer):
    started(app)
    html = viewer.get("/admin/rollout").get_data(as_text=True)
    assert "running" in html and "pause-" not in html and "abort-" not in html and "start-" not in html
    for verb in ("pause", "resume", "abort", "start"):
        assert viewer.post(f"/admin/rollout/{FLAG}/{verb}", data={"reason": "x", "confirm": "yes"}).status_code == 403
    assert store(app).latest(FLAG).status == "running"
    reports = viewer.get("/admin/reports").get_data(as_text=True)
    assert "No report yet." in reports and "make-report" not in reports
    assert viewer.post("/admin/reports", data={"span": "1h"}).status_code == 403


def test_making_a_report_runs_in_the_background_and_the_page_shows_its_verdict(app, writer):
    assert writer.post("/admin/reports", data={"span": "never"}).status_code == 400
    assert writer.post("/admin/reports", data={"span": "1h"}).status_code == 303
    job = app.extensions["admin_reports_job"]
    job.thread.join(60)
    html = writer.get("/admin/reports").get_data(as_text=True)
    assert job.last_error is None, job.last_error
    assert 'id="verdict"' in html and "The report in full" in html
    link = html.split('id="full" href="', 1)[1].split('"', 1)[0]
    full = writer.get(link)
    assert full.status_code == 200 and full.mimetype == "text/html" and b"<html" in full.data.lower()
    # The report's own inline <style> and SVG render; nothing else may load or run.
    policy = dict(part.strip().split(" ", 1) for part in full.headers["Content-Security-Policy"].split(";"))
    assert policy["default-src"] == "'none'" and policy["style-src"] == "'unsafe-inline'", policy
    assert "script-src" not in policy and b"<style" in full.data
    full.close()
    page_policy = writer.get("/admin/reports").headers["Content-Security-Policy"]
    assert "script-src 'self'" in page_policy and "unsafe-inline" not in page_policy
    assert writer.get("/admin/reports/..%2F..%2Fsecret_key/ab-report.html").status_code == 404
    assert writer.get(link.replace("ab-report.html", "secret_key")).status_code == 404


def test_the_new_pages_redirect_to_sign_in_without_a_session(app):
    for page in ("/admin/rollout", "/admin/reports"):
        response = app.test_client().get(page)
        assert response.status_code == 303 and "/admin/login" in response.headers["Location"]


def test_a_report_being_made_by_another_worker_is_refused_409_until_that_worker_is_gone(app, writer):
    import json
    import subprocess
    import sys
    import time
    from pathlib import Path

    folder = Path(services_of(app).settings.instance_path) / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (folder / ".making").write_text(json.dumps({"span": "24h", "pid": other.pid, "started": time.time()}))
        refused = writer.post("/admin/reports", data={"span": "1h"})
        assert refused.status_code == 409 and "the last 24 hours is being made" in refused.get_data(as_text=True)
        page = writer.get("/admin/reports").get_data(as_text=True)
        assert 'id="running"' in page and 'id="make-report" disabled' in page
    finally:
        other.kill()
        other.wait()
    # The worker died mid-report: its marker is stale, and a new report starts and is written.
    page = writer.get("/admin/reports").get_data(as_text=True)
    assert 'id="running"' not in page and not (folder / ".making").exists()
    assert writer.post("/admin/reports", data={"span": "1h"}).status_code == 303
    app.extensions["admin_reports_job"].thread.join(60)
    assert 'id="verdict"' in writer.get("/admin/reports").get_data(as_text=True)
    assert not (folder / ".making").exists()


def test_after_the_controller_ticks_the_page_shows_each_gate_its_verdict_and_figures_and_the_bake_left(app, writer):
    import datetime as dt

    from app.harness.rollout.controller import Controller
    from app.harness.rollout.source import DatabaseSource

    services = services_of(app)
    t0 = utc_now()
    operations.start(store(app), services.flags, Plan(FLAG, bake_s=3600.0), t0, "dana")
    clock = [t0]
    controller = Controller(store(app), services.flags, DatabaseSource(services.db.engine), lambda: clock[0],
                            holder="page-test")
    controller.tick()  # applies step 1 (25%)
    clock[0] = t0 + dt.timedelta(seconds=20)
    controller.tick()  # evaluates the gates: no uploads yet
    html = writer.get("/admin/rollout").get_data(as_text=True)
    assert "Gates (latest evaluation)" in html
    gates = html.split("Gates (latest evaluation)", 1)[1].split("</table>", 1)[0]
    for gate in ("errors", "latency", "srm"):
        assert f'<td class="mono">{gate}</td><td>short</td>' in gates, gates  # no data is not health
    assert "no data: 0 original, 0 refactored uploads" in gates
    assert '<span class="mono">samples.refactored</span> = 0' in gates and "{" not in gates  # figures, not reprs
    bake_left = html.split("Bake left</th><td>", 1)[1].split("</td>", 1)[0]
    assert bake_left.endswith(" s") and 0 < int(bake_left[:-2]) <= 3600, bake_left
    assert " UTC by dana" in html and "+00:00" not in html
