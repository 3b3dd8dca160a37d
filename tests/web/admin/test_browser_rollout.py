"""The rollout and reports pages in headless chromium: pause, resume, abort a plan; make a report."""

from __future__ import annotations

import time

from app.compose import services_of
from app.harness.rollout import operations
from app.harness.rollout.plan import Plan
from app.harness.rollout.runner import utc_now
from app.harness.rollout.store import SqlStore
from tests.web.admin.test_browser import accessibility_problems, browser, by, click, live, shot, sign_in, text  # noqa: F401

FLAG = "refactored_upload"


def test_an_operator_pauses_resumes_and_aborts_a_plan(browser, live):  # noqa: F811
    store = SqlStore(services_of(live.app).db.engine)
    operations.start(store, live.flags, Plan(FLAG), utc_now(), "dana")
    sign_in(browser, live)
    browser.get(f"{live.url}/admin/rollout")
    assert accessibility_problems(browser) == []
    click(browser, f"#pause-{FLAG}")
    assert "plan paused" in text(browser) and store.latest(FLAG).status == "paused"
    click(browser, f"#resume-{FLAG}")
    assert "plan resumed" in text(browser) and store.latest(FLAG).status == "running"
    shot(browser, "rollout")
    browser.find_element(*by(f"#abort-reason-{FLAG}")).send_keys("errors up on direct")
    click(browser, f"#abort-{FLAG}")
    assert "Abort the plan on" in text(browser) and store.latest(FLAG).status == "running"
    shot(browser, "confirm-abort")
    click(browser, "#confirm")
    assert store.latest(FLAG).status == "aborted"
    assert "aborted by alice: errors up on direct" in text(browser)


def test_an_operator_makes_a_new_report_and_opens_it(browser, live):  # noqa: F811
    sign_in(browser, live)
    browser.get(f"{live.url}/admin/reports")
    assert "No report yet." in text(browser)
    click(browser, "#make-report")
    deadline = time.monotonic() + 60
    while "Latest A/B report" not in text(browser) and time.monotonic() < deadline:
        time.sleep(0.5)
        browser.get(f"{live.url}/admin/reports")
    assert "Verdict:" in text(browser)
    assert accessibility_problems(browser) == []
    shot(browser, "reports")
    click(browser, "#full")
    assert "/ab-report.html" in browser.current_url and text(browser)
