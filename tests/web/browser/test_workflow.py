"""A staff member's day in a real browser: upload, review (confirm visible without scrolling,
at 1280 px and on a phone), confirm, discard, and the lists, each page screenshotted.

The forms are submitted as a browser does (file chosen, boxes ticked, buttons clicked), so
whatever hidden fields the forms carry (a CSRF token) go along."""

from __future__ import annotations

import pytest

from app.workbook.generator import generate_workbook

PHONE = (390, 844)
DESKTOP = (1280, 900)


@pytest.fixture(scope="module")
def workbooks(tmp_path_factory):
    folder = tmp_path_factory.mktemp("forms")
    made = {}
    for name, workbook in {
        "staged": generate_workbook("oil_and_gas_v01_00", "bad", seed=3, id_incidence=5101),
        "direct": generate_workbook("landfill_v01_00", "bad", seed=9, id_incidence=5102),
        "first": generate_workbook("oil_and_gas_v01_00", seed=2, id_incidence=5101),
    }.items():
        path = folder / f"{name}-feedback.xlsx"
        path.write_bytes(workbook.data)
        made[name] = str(path)
    return made


def _size(browser, width_height):
    browser.set_window_size(*width_height)


def _shot(browser, shots, name):
    if shots is not None:
        # the whole page: the window grown to the document's height for the picture
        width = browser.execute_script("return window.innerWidth")
        height = browser.execute_script("return document.documentElement.scrollHeight")
        old = browser.get_window_size()
        browser.set_window_size(width, min(max(height, 400), 1800))
        browser.save_screenshot(str(shots / f"{name}.png"))
        browser.set_window_size(old["width"], old["height"])


def _fits(browser) -> bool:
    """Nothing spills sideways (no horizontal scrolling of the page)."""
    return browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1")


def _in_view(browser, element) -> bool:
    return browser.execute_script(
        "const r = arguments[0].getBoundingClientRect();"
        "return r.top >= 0 && r.bottom <= window.innerHeight && r.left >= 0 && r.right <= window.innerWidth;", element)


def _click_and_wait(browser, element):
    """Click a submit button and wait until the next page has loaded."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    page = browser.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(browser, 60).until(expected_conditions.staleness_of(page))
    WebDriverWait(browser, 60).until(lambda b: b.execute_script("return document.readyState") == "complete")


def _upload(browser, base, url, path):
    from selenium.webdriver.common.by import By

    browser.get(base + url)
    browser.find_element(By.NAME, "file").send_keys(path)
    _click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "form input[type=submit]"))


def _text(browser) -> str:
    from selenium.webdriver.common.by import By

    return browser.find_element(By.TAG_NAME, "body").text


def test_upload_review_confirm_and_discard_in_a_browser(browser, live_portal, workbooks, shots):
    from selenium.webdriver.common.by import By

    base, _ = live_portal
    _size(browser, DESKTOP)
    _upload(browser, base, "/upload", workbooks["first"])  # the incidence exists, so the review compares
    browser.get(base + "/upload_staged")
    _shot(browser, shots, "upload")

    _upload(browser, base, "/upload_staged", workbooks["staged"])
    assert "/review_staged/5101/" in browser.current_url
    review_url = browser.current_url
    page = _text(browser)
    assert "Upload staged for review" in page and "could not be taken as typed" in page
    assert "“2. Plume ID(s)” (id_plume): the form has “n/a” in cell D33, which is not a whole number" in page
    confirm = browser.find_element(By.CSS_SELECTOR, "#confirm-form .actions button[type=submit]")
    assert _in_view(browser, confirm) and _fits(browser)
    _shot(browser, shots, "review")

    _size(browser, PHONE)
    browser.get(review_url)
    confirm = browser.find_element(By.CSS_SELECTOR, "#confirm-form .actions button[type=submit]")
    assert _in_view(browser, confirm), "the confirm button must show without scrolling on a phone"
    assert _fits(browser)
    _shot(browser, shots, "review-phone")
    browser.execute_script("window.scrollTo(0, document.body.scrollHeight / 2)")
    assert _in_view(browser, confirm), "the confirm bar stays in view while scrolling the fields"
    _size(browser, DESKTOP)

    browser.find_element(By.ID, "check-all").click()
    ticked = [b.get_attribute("value") for b in browser.find_elements(By.CSS_SELECTOR, "input[name=confirm]") if b.is_selected()]
    assert ticked and "sector" not in ticked
    _click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "#confirm-form .actions button[type=submit]"))
    assert browser.current_url.endswith("/incidence_update/5101")
    assert f"Confirmed {len(ticked)} field(s)" in _text(browser)
    _shot(browser, shots, "incidence-after-confirm")

    _upload(browser, base, "/upload_staged", workbooks["staged"])  # the same again: nothing left to confirm
    assert "nothing to confirm" in _text(browser)
    _shot(browser, shots, "review-nothing-to-confirm")
    _click_and_wait(browser, browser.find_element(By.XPATH, "//button[normalize-space()='Discard this upload']"))
    assert browser.current_url.endswith("/list_staged") and "Discarded" in _text(browser)
    _shot(browser, shots, "staged-list-after-discard")


def test_a_direct_upload_shows_its_warnings_and_the_lists_fit_at_1280_and_on_a_phone(browser, live_portal, workbooks, shots):
    base, _ = live_portal
    _size(browser, DESKTOP)
    _upload(browser, base, "/upload", workbooks["direct"])
    assert browser.current_url.endswith("/incidence_update/5102")
    page = _text(browser)
    assert "Upload saved to incidence 5102" in page and "so the field was saved empty" in page
    assert " PST" in page or " PDT" in page
    assert _fits(browser)
    _shot(browser, shots, "incidence-with-warnings")
    for url, name in (("/incidences", "incidences"), ("/uploads", "uploads"), ("/list_staged", "staged-list")):
        for size, suffix in ((DESKTOP, ""), (PHONE, "-phone")):
            _size(browser, size)
            browser.get(base + url)
            assert _fits(browser), (url, size)
            if url != "/list_staged" or not suffix:
                _shot(browser, shots, name + suffix)
    _size(browser, DESKTOP)
    browser.get(base + "/incidences?facility=zzz-none")
    assert "No incidence matches." in _text(browser)
    browser.get(base + "/uploads")
    text = _text(browser)
    assert "anonymous (" in text and "staged" in text and "discarded" in text


def test_a_refused_upload_says_why_in_the_browser(browser, live_portal, tmp_path, shots):
    from selenium.webdriver.common.by import By

    base, _ = live_portal
    path = tmp_path / "notes.xlsx"
    path.write_bytes(b"%PDF-1.4 not a workbook")
    _size(browser, DESKTOP)
    _upload(browser, base, "/upload", str(path))
    box = browser.find_element(By.CSS_SELECTOR, ".error-box")
    assert "The upload was not accepted." in box.text and box.is_displayed()
    _shot(browser, shots, "upload-refused")
