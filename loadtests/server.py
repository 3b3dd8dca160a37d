"""Start the portal for a load test or an HTTP benchmark: `harness serve` on the embedded
default (SQLite, a fresh instance folder), real gunicorn, trusting `X-Portal-User`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

HARNESS = Path(sys.executable).with_name("harness")


class ServerError(RuntimeError):
    """The portal did not start (or stopped) when a load test needed it."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`harness serve` in its own process group; `with Server(...) as base_url:`."""

    def __init__(self, instance: Path, workers: int = 2, log_path: Path | None = None, env: dict | None = None,
                 start_timeout: float = 60.0):
        self.instance = Path(instance)
        self.workers = workers
        self.log_path = log_path or self.instance.parent / "server.log"
        self.extra_env = env or {}
        self.start_timeout = start_timeout
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> str:
        """Start and wait for `/healthz` 200; returns the base URL."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("HARNESS_")}
        env.update(HARNESS_INSTANCE_PATH=str(self.instance), HARNESS_HOST="127.0.0.1", HARNESS_PORT=str(self.port),
                   HARNESS_WORKERS=str(self.workers), HARNESS_TRUST_USER_HEADER="true", **self.extra_env)
        self.instance.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("w")
        self.process = subprocess.Popen([str(HARNESS), "serve"], env=env, cwd=self.instance.parent, stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerError(f"harness serve exited with {self.process.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/healthz", timeout=1) as response:
                    if response.status == 200:
                        return self.base_url
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        self.stop()
        raise ServerError(f"harness serve did not answer /healthz within {self.start_timeout:.0f} s; see {self.log_path}")

    def stop(self) -> None:
        """SIGTERM to the server's process group, SIGKILL if it lingers."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
