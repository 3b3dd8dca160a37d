"""The README's run command: `harness serve` migrates, prepares folders and serves with
real gunicorn workers over real HTTP."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from app.workbook.generator import generate_workbook
from tests.conftest import multipart

HARNESS = Path(sys.executable).with_name("harness")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 5):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, response.read()


@pytest.fixture
def served(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARNESS_")}
    env.update(HARNESS_INSTANCE_PATH=str(tmp_path / "instance"), HARNESS_PORT=str(port), HARNESS_WORKERS="2")
    process = subprocess.Popen([str(HARNESS), "serve"], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if _get(f"{base}/healthz", timeout=1)[0] == 200:
                break
        except (urllib.error.URLError, ConnectionError, OSError):
            if process.poll() is not None:
                pytest.fail(f"harness serve exited: {process.stdout.read()}")
            time.sleep(0.2)
    else:
        os.killpg(process.pid, signal.SIGKILL)
        pytest.fail("harness serve did not answer /healthz within 60 s")
    yield base, tmp_path / "instance", process
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
    process.stdout.close()


def test_harness_serve_runs_the_portal_on_a_fresh_instance_folder(served):
    base, instance, process = served
    assert (instance / "portal.db").exists() and (instance / "uploads" / "staging").is_dir()
    assert _get(f"{base}/readyz")[0] == 200
    status, page = _get(f"{base}/upload")
    assert status == 200 and b'name="file"' in page
    workbook = generate_workbook("landfill_v01_01", seed=9)
    body, content_type = multipart(workbook.data, "served form.xlsx")
    request = urllib.request.Request(f"{base}/upload_refactored", data=body, method="POST",
                                     headers={"Content-Type": content_type, "Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        answer = json.loads(response.read())
        assert response.status == 200 and response.headers["X-Ingest-Path"] == "refactored"
    assert answer["ok"] and answer["id_incidence"] == workbook.id_incidence
    status, incidence = _get(f"{base}/incidence_update/{workbook.id_incidence}")
    assert status == 200 and workbook.expected["facility_name"].encode() in incidence


def test_the_run_command_prints_where_to_go(served):
    base, _, process = served
    os.killpg(process.pid, signal.SIGTERM)
    output, _ = process.communicate(timeout=20)
    assert f"ARB Feedback Portal on {base}/" in output
