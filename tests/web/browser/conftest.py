"""A real browser on a real server: headless Debian chromium driven by Selenium, the portal
served by werkzeug on a port the OS picks. Without chromium/chromedriver (or selenium) the
browser tests skip with the reason; with HARNESS_TEST_REQUIRE_SERVICES=1 they fail instead."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest

from app import create_app
from app.compose import services_of
from tests import services
from tests.conftest import make_settings

CHROMIUM = ("chromium", "chromium-browser")
# Screenshots go here when set (docs/pages.md shows the ones committed in docs/pages/).
SHOTS_ENV = "HARNESS_TEST_SCREENSHOTS"


def _binary(names) -> str | None:
    return next((shutil.which(n) for n in names if shutil.which(n)), None)


@pytest.fixture(scope="module")
def live_portal(tmp_path_factory, sqlite_template):
    """(base URL, app) of the portal served on 127.0.0.1 on a free port."""
    from werkzeug.serving import make_server

    from tests.conftest import _sqlite_url

    folder = tmp_path_factory.mktemp("browser")
    app = create_app(settings=make_settings(folder, _sqlite_url(folder, sqlite_template)))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", app
    server.shutdown()
    thread.join(5)
    services_of(app).db.dispose()


@pytest.fixture(scope="module")
def browser():
    """Headless chromium at 1280x900."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        services.unavailable("browser tests need selenium (pip install -e '.[dev]')")
    chromium, driver = _binary(CHROMIUM), _binary(("chromedriver",))
    if not (chromium and driver):
        services.unavailable("browser tests need Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1280,900", "--hide-scrollbars", "--force-device-scale-factor=1"):
        options.add_argument(argument)
    session = webdriver.Chrome(service=Service(driver), options=options)
    session.set_page_load_timeout(60)
    yield session
    session.quit()


@pytest.fixture(scope="module")
def shots() -> Path | None:
    """Where to save screenshots (None: not kept)."""
    folder = os.environ.get(SHOTS_ENV)
    if not folder:
        return None
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    return path
