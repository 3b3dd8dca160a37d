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
from loadtests.csrf import CsrfSession
from loadtests.multipart import encode_multipart

HARNESS = Path(sys.executable).with_name("harness")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 5):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, response.read()


def start_portal(tmp_path, **extra_env):
    """Start `harness serve` on a free port; returns (base URL, instance folder, process)."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HARNESS_", "PROMETHEUS_"))}
    env.update(HARNESS_INSTANCE_PATH=str(tmp_path / "instance"), HARNESS_PORT=str(port), HARNESS_WORKERS="2", **extra_env)
    # Output goes to a file: an unread pipe would fill with access-log lines and stall gunicorn.
    log = open(tmp_path / "serve.log", "w")  # noqa: SIM115 - closed by stop_portal
    process = subprocess.Popen([str(HARNESS), "serve"], env=env, cwd=tmp_path, stdout=log,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    process.log_path = tmp_path / "serve.log"
    process.log_file = log
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if _get(f"{base}/healthz", timeout=1)[0] == 200:
                break
        except (urllib.error.URLError, ConnectionError, OSError):
            if process.poll() is not None:
                log.close()
                pytest.fail(f"harness serve exited: {process.log_path.read_text()}")
            time.sleep(0.2)
    else:
        os.killpg(process.pid, signal.SIGKILL)
        log.close()
        pytest.fail(f"harness serve did not answer /healthz within 60 s: {process.log_path.read_text()[-2000:]}")
    return base, tmp_path / "instance", process


def stop_portal(process) -> None:
    """SIGTERM the portal's process group; SIGKILL if it does not stop."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
    process.log_file.close()


@pytest.fixture
def served(tmp_path):
    started = start_portal(tmp_path)
    yield started
    stop_portal(started[2])


def test_harness_serve_runs_the_portal_on_a_fresh_instance_folder(served):
    base, instance, process = served
    assert (instance / "portal.db").exists() and (instance / "uploads" / "staging").is_dir()
    assert _get(f"{base}/readyz")[0] == 200
    status, page = _get(f"{base}/upload")
    assert status == 200 and b'name="file"' in page
    workbook = generate_workbook("landfill_v01_01", seed=9)
    body, content_type = encode_multipart(workbook.data, "served form.xlsx")
    request = urllib.request.Request(f"{base}/upload_refactored", data=body, method="POST",
                                     headers={"Content-Type": content_type, "Accept": "application/json",
                                              **CsrfSession.fetch(base).headers})
    with urllib.request.urlopen(request, timeout=30) as response:
        answer = json.loads(response.read())
        assert response.status == 200 and response.headers["X-Ingest-Path"] == "refactored"
    assert answer["ok"] and answer["id_incidence"] == workbook.id_incidence
    status, incidence = _get(f"{base}/incidence_update/{workbook.id_incidence}")
    assert status == 200 and workbook.expected["facility_name"].encode() in incidence


def test_the_run_command_prints_where_to_go(served):
    base, _, process = served
    stop_portal(process)
    assert f"ARB Feedback Portal on {base}/" in process.log_path.read_text()


def _post_upload(base: str, data: bytes, user: str) -> int:
    body, content_type = encode_multipart(data, "form.xlsx")
    request = urllib.request.Request(f"{base}/upload_refactored", data=body, method="POST", headers={
        "Content-Type": content_type, "Accept": "application/json", "X-Portal-User": user,
        **CsrfSession.fetch(base).headers})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _requests_total(base: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    _, text = _get(f"{base}/metrics")
    total = 0.0
    for family in text_string_to_metric_families(text.decode()):
        if family.name == "portal_ingest_requests":
            total += sum(s.value for s in family.samples if s.name == "portal_ingest_requests_total")
    return total


def _workers(master_pid: int) -> set[int]:
    out = subprocess.run(["pgrep", "-P", str(master_pid)], capture_output=True, text=True).stdout
    return {int(pid) for pid in out.split()}


def test_metrics_count_every_upload_across_gunicorn_workers_and_survive_a_dead_worker(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    stale = tmp_path / "instance" / "prometheus"
    stale.mkdir(parents=True)
    (stale / "counter_99999.db").write_bytes(b"stale values from a previous run")
    base, instance, process = start_portal(tmp_path, HARNESS_TRUST_USER_HEADER="true")
    try:
        assert not (stale / "counter_99999.db").exists()  # the folder is emptied at start
        assert _requests_total(base) == 0
        uploads = [generate_workbook("energy_v01_00", "bad" if n % 3 == 0 else "good", seed=n).data for n in range(6)]
        n = 30
        with ThreadPoolExecutor(6) as pool:
            statuses = list(pool.map(lambda i: _post_upload(base, uploads[i % 6], f"user-{i}"), range(n)))
        assert statuses == [200] * n
        workers = _workers(process.pid)
        assert len(workers) == 2
        assert len(list(stale.glob("counter_*.db"))) == 2  # both workers served and wrote values
        assert _requests_total(base) == n
        # A worker dies; gunicorn replaces it; what it counted is still counted.
        victim = sorted(workers)[0]
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (victim in _workers(process.pid) or len(_workers(process.pid)) < 2):
            time.sleep(0.2)
        assert victim not in _workers(process.pid) and len(_workers(process.pid)) == 2
        with ThreadPoolExecutor(4) as pool:
            more = list(pool.map(lambda i: _post_upload(base, uploads[i % 6], f"late-{i}"), range(8)))
        assert more == [200] * 8
        assert _requests_total(base) == n + 8
    finally:
        stop_portal(process)


def test_each_instance_has_a_gunicorn_control_socket_of_its_own(tmp_path):
    from app.cli.serve import gunicorn_options
    from tests.conftest import make_settings

    one = gunicorn_options(make_settings(tmp_path / "a", "sqlite://", port=18501))
    other = gunicorn_options(make_settings(tmp_path / "b", "sqlite://", port=18502))
    socket_of = lambda argv: argv[argv.index("--control-socket") + 1]  # noqa: E731
    assert socket_of(one) != socket_of(other) and socket_of(one).startswith(str(tmp_path / "a"))
    assert "gthread" in one and "--threads" in one
    deep = gunicorn_options(make_settings(tmp_path / ("x" * 120), "sqlite://"))
    assert "--no-control-socket" in deep  # too long for a Unix socket path: none rather than the shared default


def test_a_served_instance_listens_on_its_own_control_socket(served):
    base, instance, process = served
    port = base.rsplit(":", 1)[1]
    assert (instance / f"gunicorn-{port}.ctl").exists()


def test_the_access_log_redacts_tokens_in_query_strings_and_never_writes_authorization(served):
    base, _, process = served
    secret = "admin-token-" + "s" * 24
    request = urllib.request.Request(f"{base}/healthz?token={secret}&x=1&access_token={secret}2", headers={
        "Referer": f"{base}/admin/?admin_token={secret}3", "Authorization": f"Bearer {secret}4"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    stop_portal(process)
    log = process.log_path.read_text()
    line = next(line for line in log.splitlines() if "/healthz?" in line)
    assert secret not in log
    assert "token=[redacted]&x=1&access_token=[redacted]" in line and "admin_token=[redacted]" in line


def test_redact_keeps_ordinary_parameters_and_replaces_secret_ones():
    from app.gunicorn_conf import redact

    assert redact("GET /x?route=direct&limit=5 HTTP/1.1") == "GET /x?route=direct&limit=5 HTTP/1.1"
    assert redact("/a?TOKEN=abc;password=p&next=/b") == "/a?TOKEN=[redacted];password=[redacted]&next=/b"
    assert redact(None) is None


def test_the_access_log_atoms_carry_no_secret_whatever_the_format():
    import datetime as dt
    from types import SimpleNamespace

    from gunicorn.config import Config

    from app.gunicorn_conf import RedactingLogger

    environ = {"REQUEST_METHOD": "GET", "RAW_URI": "/admin/?access_token=sekrit&x=1", "SERVER_PROTOCOL": "HTTP/1.1",
               "QUERY_STRING": "access_token=sekrit&x=1", "HTTP_REFERER": "http://h/?token=sekrit",
               "HTTP_AUTHORIZATION": "Bearer sekrit", "HTTP_COOKIE": "harness_admin=sekrit"}
    request = SimpleNamespace(headers=[("AUTHORIZATION", "Bearer sekrit"), ("COOKIE", "harness_admin=sekrit"),
                                       ("REFERER", "http://h/?token=sekrit")])
    response = SimpleNamespace(status="200 OK", sent=2, headers=[])
    atoms = RedactingLogger(Config()).atoms(response, request, environ, dt.timedelta(seconds=0.01))
    assert "sekrit" not in repr(atoms)
    assert atoms["r"] == "GET /admin/?access_token=[redacted]&x=1 HTTP/1.1" and atoms["{authorization}i"] == "[redacted]"
