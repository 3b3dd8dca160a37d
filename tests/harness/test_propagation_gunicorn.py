"""Rollback everything through real gunicorn workers: the answer says how long it took to
reach every live worker, counts them, and a killed worker's replacement takes its place."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.request

import pytest

from loadtests.server import Server

pytestmark = pytest.mark.slow
TOKEN = "p" * 24
WORKERS = 3


def rollback(base: str) -> dict:
    request = urllib.request.Request(f"{base}/admin/api/flags/rollback", method="POST",
                                     data=json.dumps({"reason": "propagation test"}).encode(),
                                     headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def worker_pids(server: Server) -> set[int]:
    """The gunicorn workers: the master's children (`harness serve` execs gunicorn, keeping its pid)."""
    out = subprocess.run(["pgrep", "-P", str(server.process.pid)], capture_output=True, text=True).stdout
    return {int(pid) for pid in out.split()}


def published_pids(base: str) -> set[int]:
    """The workers with a `portal_flag_seen_version` series on /metrics."""
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {int(m) for m in re.findall(r'^portal_flag_seen_version\{[^}]*pid="(\d+)"', text, re.M)}


@pytest.fixture
def portal(tmp_path):
    url = f"sqlite:///{tmp_path / 'portal.db'}"
    server = Server(tmp_path / "instance", workers=WORKERS, log_path=tmp_path / "server.log",
                    env={"HARNESS_DATABASE_URL": url, "HARNESS_FLAG_STORE_URL": url, "HARNESS_ENV": "test",
                         "HARNESS_SHADOW_PROCESSES": "0", "HARNESS_ADMIN_TOKENS": f"ops:rw:{TOKEN}"})
    server.port = int(os.environ.get("HARNESS_TEST_PORT", "18517"))
    server.base_url = f"http://127.0.0.1:{server.port}"
    with server as base:
        yield server, base


def test_rollback_reports_reaching_every_gunicorn_worker(portal):
    server, base = portal
    answer = rollback(base)
    assert answer["workers_measured"] == "every live gunicorn worker"
    assert answer["workers"] == WORKERS and answer["workers_behind"] == {}, answer
    reached = answer["reached_all_workers_seconds"]
    print(f"reached all {answer['workers']} workers in {reached:.3f} s (limit {answer['limit_seconds']} s, "
          f"ttl {answer['propagation_seconds']} s)")
    assert reached is not None and answer["written_seconds"] <= reached <= answer["limit_seconds"]

    # A worker dies: gunicorn replaces it, its series go (child_exit), the count stays right.
    pids = worker_pids(server)
    assert len(pids) == WORKERS, pids
    victim = sorted(pids)[0]
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (victim in (now := worker_pids(server)) or len(now) < WORKERS):
        time.sleep(0.2)
    # The new worker publishes its versions once its app is built (a few seconds on a busy machine).
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(published_pids(base)) < WORKERS:
        time.sleep(0.5)
    assert published_pids(base) == worker_pids(server) and victim not in published_pids(base)
    again = rollback(base)
    assert again["workers"] == WORKERS and again["workers_behind"] == {}, again
    assert again["reached_all_workers_seconds"] <= again["limit_seconds"]
