"""What the rollout tests on the stack share: the `harness` command against the stack, fault
injection through nginx, routed traffic from distinct users, and a controller process run
until it kills the flag (or a deadline passes)."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from flags import REFACTORED_UPLOAD, open_service
from loadtests.stack.client import post
from loadtests.stack.runner import HARNESS, Process, stop_process

FAULT = "refactored.direct.error_rate=0.5"


def harness(stack, *args: str, **popen) -> subprocess.CompletedProcess | subprocess.Popen:
    """`harness ARGS` with the stack's settings: run to completion, or started when popen is given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARNESS_")}
    env.update(stack.portal_env())
    env["HARNESS_ROLLOUT_INTERVAL_S"] = "1"
    if popen:
        return subprocess.Popen([str(HARNESS), *args], env=env, start_new_session=True, **popen)
    return subprocess.run([str(HARNESS), *args], env=env, capture_output=True, text=True, timeout=60)


def set_faults(stack, spec: str | None) -> None:
    """Inject `spec` on every instance behind nginx (None clears it)."""
    request = urllib.request.Request(f"{stack.nginx_url}/admin/api/faults", method="PUT" if spec else "DELETE",
                                     data=json.dumps({"spec": spec}).encode() if spec else None,
                                     headers={"Authorization": f"Bearer {stack.admin_token}",
                                              "Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=10).close()


def traffic(stack, samples, stop: threading.Event, statuses: list) -> None:
    """Routed uploads through nginx, each from a new user, until `stop`."""
    for sample in itertools.cycle(samples):
        if stop.is_set():
            return
        statuses.append(post(stack.nginx_url, "/upload", sample.body, sample.content_type,
                             user=f"plan-user-{uuid.uuid4().hex[:10]}", timeout=30).status)
        time.sleep(0.02)


def traffic_for(stack, samples, seconds: float) -> list[int]:
    """Two clients' routed uploads for `seconds`; their statuses."""
    stop, statuses = threading.Event(), []
    threads = [threading.Thread(target=traffic, args=(stack, samples, stop, statuses)) for _ in range(2)]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    return statuses


@dataclass
class ControllerRun:
    """How a controller run under a fault ended."""

    killed: bool
    waited_s: float
    log: Path
    kill_entry: object | None = None  # the flag audit entry of the kill
    statuses: list[int] = field(default_factory=list)


def run_controller_under_fault(stack, samples, log: Path, wait_s: float, *controller_args: str) -> ControllerRun:
    """Inject FAULT, run `harness rollout run --interval 1 ARGS` as its own process under two
    clients' routed traffic until the flag is killed or `wait_s` passes; clear the fault and
    stop the controller whatever happened."""
    set_faults(stack, FAULT)
    with log.open("w") as handle:
        controller = harness(stack, "rollout", "run", "--interval", "1", *controller_args,
                             stdout=handle, stderr=subprocess.STDOUT)
    flags = open_service(stack.flag_store_url)
    stop, statuses = threading.Event(), []
    threads = [threading.Thread(target=traffic, args=(stack, samples, stop, statuses)) for _ in range(2)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    try:
        while time.monotonic() - began < wait_s and not flags.get(REFACTORED_UPLOAD).killed:
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
        set_faults(stack, None)
        flags.close()
    return ControllerRun(killed, waited, log, entry, statuses)
