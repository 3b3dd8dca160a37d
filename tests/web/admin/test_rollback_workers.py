"""Rollback everything on the admin page when the instance's workers are read from a gunicorn
metrics folder: one worker caught up, one stuck on the old version (its metric file written
as a worker writes it). The page names the late worker; through real gunicorn:
tests/harness/test_propagation_gunicorn.py."""

from __future__ import annotations

import re

import pytest
from prometheus_client.mmap_dict import MmapedDict, mmap_key

from app.compose import services_of
from app.harness.propagation import SEEN_VERSION
from tests.conftest import make_settings
from tests.web.admin.test_pages import TOKENS, sign_in

FLAGS = ("refactored_upload", "refactored_staged_upload")


def publish(folder, pid: int, versions: dict[str, int]) -> None:
    """What a worker's `portal_flag_seen_version` gauge writes to the metrics folder."""
    values = MmapedDict(str(folder / f"gauge_liveall_{pid}.db"))
    for flag, version in versions.items():
        values.write_value(mmap_key(SEEN_VERSION, SEEN_VERSION, ["flag"], [flag], "seen"), float(version), 0.0)
    values.close()


@pytest.fixture
def app(tmp_path, sqlite_url):
    from app import create_app

    folder = tmp_path / "prometheus"
    folder.mkdir()
    application = create_app(settings=make_settings(tmp_path, sqlite_url, admin_tokens=TOKENS, metrics_dir=str(folder)))
    application.config["TESTING"] = True
    application.metrics_folder = folder
    yield application
    services_of(application).close()


def test_the_page_says_how_many_workers_had_it_within_the_limit_and_which_did_not(app):
    service = services_of(app).flags
    now = {name: service.get(name).version for name in FLAGS}
    publish(app.metrics_folder, 111, {name: version + 1 for name, version in now.items()})  # will be caught up
    publish(app.metrics_folder, 222, now)  # stuck on the versions before the rollback
    client = app.test_client()
    sign_in(client)
    done = client.post("/admin/rollback", data={"reason": "bad deploy", "confirm": "yes"})
    text = re.sub(r"\s+", " ", done.get_data(as_text=True))
    assert done.status_code == 200 and all(service.get(name).killed for name in FLAGS)
    assert "1 of 2 workers had it within the limit of 5 s; behind: pid 222." in text, text


def test_the_page_says_it_reached_all_workers_once_they_have_the_versions(app):
    service = services_of(app).flags
    now = {name: service.get(name).version for name in FLAGS}
    for pid in (111, 222, 333):
        publish(app.metrics_folder, pid, {name: version + 1 for name, version in now.items()})
    client = app.test_client()
    sign_in(client)
    text = re.sub(r"\s+", " ", client.post("/admin/rollback", data={"reason": "bad deploy", "confirm": "yes"})
                  .get_data(as_text=True))
    assert re.search(r"It reached all 3 workers in [\d.]+ s\.", text), text
