"""The admin pages in a real browser: Debian's chromium, headless, driven by Selenium.

The portal runs in a thread on a free port; a second server on another port plays the
attacker's site. Without chromium and chromedriver these tests skip, and fail under
`HARNESS_TEST_REQUIRE_SERVICES=1` (CI installs both). With `HARNESS_ADMIN_SCREENSHOTS=DIR`
each page is also saved as a PNG in DIR (docs/admin/ is made that way: docs/admin.md).
"""

from __future__ import annotations

import http.server
import os
import shutil
import threading
from pathlib import Path

import pytest

from app.compose import services_of
from app.config import AdminToken
from tests import services
from tests.conftest import make_settings

WRITE_TOKEN = "w" * 32
READ_TOKEN = "r" * 32
CHROMIUM = ("chromium", "chromium-browser")
SCREENSHOTS = os.environ.get("HARNESS_ADMIN_SCREENSHOTS")

pytestmark = pytest.mark.browser


def _executable(names) -> str | None:
    return next((path for path in map(shutil.which, names) if path), None)


@pytest.fixture(scope="module")
def browser():
    """Headless chromium through chromedriver (skip, or fail in CI, when either is missing)."""
    chromium, driver_path = _executable(CHROMIUM), _executable(("chromedriver",))
    if not chromium or not driver_path:
        services.unavailable("browser tests need Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1280,1000", "--disable-extensions", "--no-first-run"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


class Live:
    """A portal app served on a free port in a thread."""

    def __init__(self, app) -> None:
        from werkzeug.serving import make_server

        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def flags(self):
        return services_of(self.app).flags

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
        services_of(self.app).close()


@pytest.fixture
def live(tmp_path, sqlite_url):
    from app import create_app

    tokens = (AdminToken("alice", WRITE_TOKEN), AdminToken("viewer", READ_TOKEN, can_write=False))
    server = Live(create_app(settings=make_settings(tmp_path, sqlite_url, admin_tokens=tokens)))
    yield server
    server.close()


@pytest.fixture
def attacker(tmp_path):
    """Another site (another port) serving whatever page the test writes to `page.html`."""
    root = tmp_path / "evil"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def by(css: str):
    from selenium.webdriver.common.by import By

    return By.CSS_SELECTOR, css


def shot(driver, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1280, max(600, min(int(height) + 40, 2400)))
        driver.save_screenshot(str(Path(SCREENSHOTS) / f"{name}.png"))
        driver.set_window_size(1280, 1000)


def sign_in(driver, live: Live, token: str = WRITE_TOKEN) -> None:
    driver.delete_all_cookies()
    driver.get(f"{live.url}/admin/flags")
    assert "/admin/login" in driver.current_url  # no session: the sign-in page
    driver.find_element(*by("#token")).send_keys(token)
    click(driver, "#sign-in")
    assert driver.current_url.endswith("/admin/flags"), driver.current_url


def click(driver, css: str) -> None:
    """Click what `css` names and wait for the next page to load."""
    from selenium.webdriver.support.ui import WebDriverWait

    page = driver.find_element(*by("html"))
    driver.find_element(*by(css)).click()
    WebDriverWait(driver, 15).until(lambda d: _stale(page))
    WebDriverWait(driver, 15).until(lambda d: d.execute_script("return document.readyState") == "complete")


def _stale(element) -> bool:
    from selenium.common.exceptions import WebDriverException

    try:
        element.is_enabled()
        return False
    except WebDriverException:  # stale, or (chromedriver) "does not belong to the document"
        return True


def text(driver) -> str:
    return driver.find_element(*by("body")).text


def accessibility_problems(driver) -> list[str]:
    """Inputs without a label, and headings out of order (the first an h1, no level skipped)."""
    return driver.execute_script("""
        const problems = [];
        for (const el of document.querySelectorAll('input:not([type=hidden]):not([type=submit]):not([type=button]), select, textarea')) {
          const labelled = (el.id && document.querySelector(`label[for="${el.id}"]`)) || el.closest('label')
                           || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby');
          if (!labelled) problems.push('no label: ' + el.outerHTML.slice(0, 80));
        }
        let previous = 0;
        for (const h of document.querySelectorAll('h1, h2, h3, h4, h5, h6')) {
          const level = Number(h.tagName[1]);
          if ((previous === 0 && level !== 1) || level > previous + 1) problems.push('heading out of order: ' + h.outerHTML.slice(0, 80));
          previous = level;
        }
        if (!document.documentElement.lang) problems.push('no lang on <html>');
        return problems;
    """)


def test_an_operator_signs_in_sets_25_percent_kills_sees_the_history_and_resumes(browser, live):
    sign_in(browser, live)
    click(browser, "a[href='/admin/flags/refactored_upload']")
    field = browser.find_element(*by("#percent-input"))
    assert field.get_attribute("value") == "25"  # the plan's next step, suggested
    browser.find_element(*by("#percent-reason")).send_keys("week 1")
    shot(browser, "flag")
    click(browser, "#set-percent")
    assert "rollout 25%" in text(browser) and live.flags.get("refactored_upload").percent == 25

    browser.find_element(*by("#switch-reason")).send_keys("error rate up on refactored")
    click(browser, "#kill")
    assert "Kill refactored_upload?" in text(browser) and not live.flags.get("refactored_upload").killed
    shot(browser, "confirm-kill")
    click(browser, "#confirm")
    assert live.flags.get("refactored_upload").killed
    history = browser.find_element(*by("#history")).text.splitlines()
    assert "alice kill" in history[1] and "error rate up on refactored" in history[1]  # newest first
    assert "alice percent" in history[2] and "week 1" in history[2]

    browser.find_element(*by("#switch-reason")).send_keys("fixed in 1.4.2")
    click(browser, "#resume")
    click(browser, "#confirm")
    assert not live.flags.get("refactored_upload").killed and "live again at 25%" in text(browser)
    from selenium.webdriver.support.ui import Select

    Select(browser.find_element(*by("#actor-filter"))).select_by_visible_text("system")
    click(browser, "#filter")
    rows = browser.find_element(*by("#history")).text.splitlines()[1:]
    assert rows and all(" system " in f" {row} " for row in rows)


def test_rollback_everything_from_the_header_kills_every_refactored_flag(browser, live):
    live.flags.set_percent("refactored_upload", 50, actor="bob")
    live.flags.set_percent("refactored_staged_upload", 10, actor="bob")
    sign_in(browser, live)
    browser.get(f"{live.url}/admin/shadow")
    browser.find_element(*by("#rollback-reason")).send_keys("incident 42")
    click(browser, "#rollback-everything")
    assert "Roll back everything?" in text(browser)
    shot(browser, "confirm-rollback")
    click(browser, "#confirm")
    result = browser.find_element(*by("#rollback-result")).text
    assert "this worker decided original after" in result
    shot(browser, "rolled-back")
    assert live.flags.get("refactored_upload").killed and live.flags.get("refactored_staged_upload").killed


def test_a_read_only_actor_sees_every_page_but_no_button(browser, live):
    sign_in(browser, live, READ_TOKEN)
    for page in ("/admin/flags", "/admin/flags/refactored_upload", "/admin/shadow", "/admin/rollout", "/admin/reports"):
        browser.get(live.url + page)
        assert "viewer (read-only)" in text(browser)
        buttons = [b.text for b in browser.find_elements(*by("main button, header button"))]
        assert set(buttons) <= {"Sign out", "Filter", "Show"}, (page, buttons)
    shot(browser, "flag-read-only")


def test_a_forged_cross_site_post_is_refused_and_changes_nothing(browser, live, attacker):
    root, evil = attacker
    (root / "page.html").write_text(f"""<!doctype html><html lang="en"><body><h1>You won</h1>
        <form id="f" method="post" action="{live.url}/admin/rollback">
          <input name="reason" value="forged"><input name="confirm" value="yes"></form>
        <script>document.getElementById('f').submit()</script></body></html>""")
    sign_in(browser, live)
    browser.get(f"{evil}/page.html")
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 10).until(lambda d: d.current_url.startswith(live.url))
    assert "CSRF" in text(browser) or "/admin/login" in browser.current_url
    assert not live.flags.get("refactored_upload").killed
    assert live.flags.history(action="kill") == []


def test_the_pages_pass_an_accessibility_smoke_check(browser, live):
    seed_mismatch(live)
    live.flags.set_percent("refactored_upload", 25, actor="alice", reason="week 1")
    live.flags.allow("refactored_upload", ["qa-1", "qa-2"], actor="alice")
    live.flags.kill("shadow_staged_upload", actor="bob", reason="noisy diffs on staged")
    browser.delete_all_cookies()
    browser.get(f"{live.url}/admin/login")
    shot(browser, "login")
    assert accessibility_problems(browser) == []
    sign_in(browser, live)
    for page, name in (("/admin/flags", "flags"), ("/admin/flags/refactored_upload", None), ("/admin/shadow", "shadow"),
                       ("/admin/rollout", None), ("/admin/reports", None), ("/upload", None)):
        browser.get(live.url + page)
        assert accessibility_problems(browser) == [], page
        if name:
            shot(browser, name)
    violations = [entry["message"] for entry in browser.get_log("browser") if "Content Security Policy" in entry["message"]]
    assert violations == []  # the policy blocked nothing the pages need


def seed_mismatch(live: Live) -> None:
    """One stored mismatch with a long value, so the shadow page has something to show."""
    import datetime as dt

    from sqlalchemy import insert

    from shadow.records import mismatch_fields, mismatches

    store = services_of(live.app).shadowing.store
    long_value = "<b>Sunshine Canyon</b> " + "landfill gas flare readings " * 12
    with store.engine.begin() as conn:
        record_id = conn.execute(insert(mismatches).values(
            at=dt.datetime.now(dt.UTC), route="direct", control_path="original", candidate_path="refactored",
            user="dana", id_incidence=1204, differences=[
                {"field": "payload.facility_name", "control": long_value, "candidate": "Sunshine Canyon"},
                {"field": "sector", "control": "Landfill", "candidate": "landfill"}])).inserted_primary_key[0]
        conn.execute(insert(mismatch_fields), [{"mismatch_id": record_id, "route": "direct", "field": f}
                                               for f in ("payload.facility_name", "sector")])
    from app.workbook.generator import generate_workbook
    from tests.conftest import post_file

    for n, endpoint in enumerate(("/upload_original", "/upload_original", "/upload_original", "/upload_refactored")):
        post_file(live.app.test_client(), endpoint, generate_workbook("landfill_v01_00", seed=20 + n).data)
    metrics = services_of(live.app).metrics
    metrics.shadow_runs.labels("direct", "original", "match").inc(41)
    metrics.shadow_runs.labels("direct", "original", "mismatch").inc(1)


def test_check_all_on_the_review_page_works_from_its_script_file_under_the_policy(browser, live):
    from app.ingest.models import utcnow
    from app.ingest.persistence import apply_merge
    from app.workbook.generator import generate_workbook
    from tests.conftest import post_file

    services_of(live.app)
    apply_merge(services_of(live.app).db, 8001, {"id_incidence": 8001, "facility_name": "Before"}, sector="Landfill",
                user="staff", comments=None, now=utcnow())
    workbook = generate_workbook("energy_v01_00", seed=4, id_incidence=8001)
    staged = post_file(live.app.test_client(), "/upload_staged_original", workbook.data).get_json()["staged_filename"]
    browser.get(f"{live.url}/review_staged/8001/{staged}")
    click_box = browser.find_element(*by("#check-all"))
    click_box.click()
    boxes = browser.find_elements(*by("input[name=confirm]"))
    assert boxes and all(box.is_selected() for box in boxes if "explicit" not in (box.get_attribute("class") or ""))
    assert not any(box.is_selected() for box in boxes if "explicit" in (box.get_attribute("class") or ""))
    click(browser, "button[type=submit]")
    assert "/incidence_update/8001" in browser.current_url
