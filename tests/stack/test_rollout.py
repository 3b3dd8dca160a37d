"""The rollout controller on the stack: a plan at 50%, the refactored path failing on half its
uploads (fault injection), routed traffic through nginx to both instances, and the
controller process (the command of ops/systemd/arb-portal-rollout.service) kills the flag.

Runs only where the rollout controller exists (`harness rollout`, issue 12). This
controller reads its evidence from the database (the routed uploads recorded in
`uploaded_files`): it checks the controller acts on the real shape (two instances, one
shared database and flag store). `test_rollout_prometheus.py` runs the same rollback with
the controller reading only Prometheus (`--prometheus URL`).
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import subprocess
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from flags import REFACTORED_UPLOAD, open_service
from loadtests.stack.client import post
from loadtests.stack.runner import HARNESS, Process, stop_process
from tests.stack.conftest import report

if importlib.util.find_spec("app.harness.rollout") is None:
    pytest.skip("the rollout controller (harness rollout, issue 12) is not in this checkout", allow_module_level=True)

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

FAULT = "refactored.direct.error_rate=0.5"
ROLLBACK_WAIT_S = 180


@pytest.fixture(scope="module")
def stack_portal_env() -> dict[str, str]:
    """A rehearsal stack; the portals' own controller threads off, so the unit's process acts."""
    return {"HARNESS_ENV": "development", "HARNESS_FAULTS": "", "HARNESS_ROLLOUT_INTERVAL_S": "0"}


def _harness(stack, *args: str, **popen) -> subprocess.CompletedProcess | subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARNESS_")}
    env.update(stack.portal_env())
    env["HARNESS_ROLLOUT_INTERVAL_S"] = "1"
    if popen:
        return subprocess.Popen([str(HARNESS), *args], env=env, start_new_session=True, **popen)
    return subprocess.run([str(HARNESS), *args], env=env, capture_output=True, text=True, timeout=60)


def _faults(stack, spec: str | None) -> None:
    request = urllib.request.Request(f"{stack.nginx_url}/admin/api/faults", method="PUT" if spec else "DELETE",
                                     data=json.dumps({"spec": spec}).encode() if spec else None,
                                     headers={"Authorization": f"Bearer {stack.admin_token}",
                                              "Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=10).close()


def _traffic(stack, samples, stop: threading.Event, statuses: list) -> None:
    for sample in itertools.cycle(samples):
        if stop.is_set():
            return
        statuses.append(post(stack.nginx_url, "/upload", sample.body, sample.content_type,
                             user=f"plan-user-{uuid.uuid4().hex[:10]}", timeout=30).status)
        time.sleep(0.02)


def test_the_rollout_controller_kills_the_flag_when_the_refactored_path_fails(stack, good_samples):
    started = _harness(stack, "rollout", "start", REFACTORED_UPLOAD, "--steps", "50,100", "--bake", "10m",
                       "--min-uploads", "20", "--gates", "errors", "--rollback", "kill")
    assert started.returncode == 0, started.stdout + started.stderr
    _faults(stack, FAULT)
    log = Path(stack.folder) / "logs" / "controller.log"
    with log.open("w") as handle:
        controller = _harness(stack, "rollout", "run", "--interval", "1", stdout=handle, stderr=subprocess.STDOUT)
    flags = open_service(stack.flag_store_url)
    stop, statuses = threading.Event(), []
    threads = [threading.Thread(target=_traffic, args=(stack, good_samples, stop, statuses)) for _ in range(2)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    try:
        while time.monotonic() - began < ROLLBACK_WAIT_S and not flags.get(REFACTORED_UPLOAD).killed:
            time.sleep(1)
        waited = time.monotonic() - began
        killed = flags.get(REFACTORED_UPLOAD).killed
        entry = next(iter(flags.history(flag=REFACTORED_UPLOAD, action="kill", limit=1)), None)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        stop_process(Process("controller", controller.pid, str(HARNESS), str(log)))
        controller.wait(10)
        _faults(stack, None)
        flags.close()
    report(f"rollout controller killed {REFACTORED_UPLOAD} {waited:.0f} s after {FAULT} under routed traffic "
           f"through nginx ({len(statuses)} uploads, {statuses.count(503)} answered 503); "
           f"audit: {entry.actor if entry else None}: {entry.reason if entry else None}")
    assert killed, f"the controller did not kill the flag within {ROLLBACK_WAIT_S} s; see {log}"
    from app.harness.names import ROLLOUT_ACTOR

    assert entry is not None and entry.actor == ROLLOUT_ACTOR
