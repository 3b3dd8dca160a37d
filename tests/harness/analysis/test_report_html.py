"""The HTML report in headless Chromium: it renders offline, shows the verdict, and every
plot is drawn. Skipped without Debian's chromium and chromedriver, a failure when
HARNESS_TEST_REQUIRE_SERVICES=1."""

from __future__ import annotations

import datetime as dt
import shutil

import numpy as np
import pytest

from app.harness.analysis.evidence import Mismatch, PercentHistory
from app.harness.analysis.render import write_all
from app.harness.analysis.report import build_report
from app.harness.analysis.samples import samples_from_columns
from app.harness.analysis.simulate import PathBehaviour, Scenario, simulate
from app.harness.analysis.window import Window
from tests import services


@pytest.fixture
def browser():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        services.unavailable("browser tests need Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        services.unavailable("browser tests need selenium (make install)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1200,900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    yield driver
    driver.quit()


@pytest.fixture
def report_file(tmp_path):
    scenario = Scenario(3000, refactored=PathBehaviour(server_error_rate=0.12))
    rng = np.random.default_rng(7)
    samples = samples_from_columns(simulate(scenario, rng), scenario.start, scenario.start + scenario.seconds,
                                   routes=("direct",))
    window = Window(dt.datetime.fromtimestamp(scenario.start, dt.timezone.utc),
                    dt.datetime.fromtimestamp(scenario.start + scenario.seconds, dt.timezone.utc))
    mismatch = Mismatch(scenario.start + 60, "direct", "original", ({"field": "sector", "control": "<b>Energy</b>",
                                                                    "candidate": "Oil"},))
    report = build_report(samples, window, now=window.end, percents={"direct": PercentHistory((), 50.0)},
                          mismatches=[mismatch])
    return write_all(report, tmp_path / "report")["html"]


def test_the_html_report_renders_with_its_verdict_and_plots(browser, report_file):
    from selenium.webdriver.common.by import By

    browser.get(report_file.as_uri())
    assert browser.find_element(By.ID, "verdict").text == "fail"
    section = browser.find_element(By.ID, "route-direct")
    assert section.get_attribute("data-verdict") == "fail"
    assert "server-error rate" in section.find_element(By.CSS_SELECTOR, "table.checks").text
    plots = section.find_elements(By.CSS_SELECTOR, "figure.plot")
    assert [p.get_attribute("data-plot") for p in plots] == ["latency", "rates", "decisions", "shadow"]
    for plot in plots:
        svg = plot.find_element(By.TAG_NAME, "svg")
        assert svg.size["width"] > 200 and svg.size["height"] > 100, plot.get_attribute("data-plot")
        assert len(svg.find_elements(By.CSS_SELECTOR, "path")) > 5  # something was drawn
    # values from the data are shown as text, never as markup
    assert "<b>Energy</b>" in section.find_element(By.CSS_SELECTOR, "table.shadow-fields").text
    resources = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert resources == []  # self-contained: nothing fetched
