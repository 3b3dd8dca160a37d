"""Servers a fault test starts for itself and may freeze or kill (never the shared ones).

`OwnPostgres` runs Debian's PostgreSQL binaries (`initdb`, `pg_ctl`) on a free port in a
temporary folder, as the `postgres` user when the tests run as root (PostgreSQL refuses
root); `OwnRedis` runs `redis-server` the same way. Without the binaries a test is
skipped with the reason, and fails under `HARNESS_TEST_REQUIRE_SERVICES=1` (CI), like the
shared services in `tests/services.py` (`.ci/run` installs redis-server; PostgreSQL's
binaries missing is a skip with the reason, never a reason to touch the shared server).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests import services


def free_port() -> int:
    """A TCP port the OS says is free now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _postgres_bin() -> Path | None:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(candidate, "initdb").exists() and Path(candidate, "pg_ctl").exists():
            return Path(candidate)
    found = shutil.which("pg_ctl")
    return Path(found).resolve().parent if found and shutil.which("initdb") else None


def _as_user() -> tuple[list[str], int | None]:
    """The command prefix to run a server as `postgres` when we are root (and its uid)."""
    if os.geteuid() != 0:
        return [], None
    try:
        uid = pwd.getpwnam("postgres").pw_uid
    except KeyError:
        services.unavailable("running as root and there is no 'postgres' user to run a PostgreSQL as")
    return ["runuser", "-u", "postgres", "--"], uid


def _pids_of(pattern_path: Path) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(pattern_path) in cmdline:
            pids.append(int(entry.name))
    return pids


class OwnPostgres:
    """A throw-away PostgreSQL cluster: start, freeze (SIGSTOP every process), thaw, kill -9."""

    def __init__(self, folder: Path) -> None:
        self.bin = _postgres_bin()
        if self.bin is None:
            # Skipped even in CI: the shared PostgreSQL must never be frozen or killed instead.
            pytest.skip("no PostgreSQL binaries (initdb, pg_ctl; Debian package postgresql) to start a PostgreSQL "
                        "of the test's own")
        self.folder = folder
        self.data = folder / "pgdata"
        self.port = free_port()
        self.prefix, self.uid = _as_user()

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the `postgres` database on this server."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str, timeout: float = 60) -> None:
        subprocess.run([*self.prefix, *argv], check=True, timeout=timeout, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)

    def start(self) -> OwnPostgres:
        """initdb (once) and start; returns when it accepts connections."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.uid is not None:
            os.chown(self.folder, self.uid, -1)
        if not self.data.exists():
            self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                      "--no-sync", "-E", "UTF8")
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c full_page_writes=off -c max_connections=60")
        # synchronous_commit stays on: a kill -9 must not lose a commit the portal was told about.
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.folder / "log"),
                  "-w", "-t", "60", "start", timeout=90)
        return self

    def pids(self) -> list[int]:
        """Every process of this cluster (postmaster and backends), by its data folder or children."""
        postmaster = self.postmaster_pid()
        pids = {postmaster} if postmaster else set()
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                if postmaster and ppid == postmaster:
                    pids.add(int(entry.name))
        return sorted(pids)

    def postmaster_pid(self) -> int | None:
        """The postmaster's pid, from its pid file."""
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def signal_all(self, sig: int) -> None:
        """Send `sig` to every process of the cluster."""
        for pid in self.pids():
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def freeze(self) -> None:
        """SIGSTOP every process: connections neither answer nor refuse."""
        self.signal_all(signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT every process."""
        self.signal_all(signal.SIGCONT)

    def kill(self) -> None:
        """kill -9 the postmaster and its backends (a crash)."""
        pids = self.pids()
        self.signal_all(signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in pids):
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop the cluster whatever state it is in (thawed first)."""
        self.thaw()
        if self.postmaster_pid() and Path(f"/proc/{self.postmaster_pid()}").exists():
            try:
                self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=30)
            except (subprocess.SubprocessError, OSError):
                self.kill()


class OwnRedis:
    """A throw-away redis-server on a free port: freeze, thaw, restart (with or without its data)."""

    def __init__(self, folder: Path, persistence: bool = False) -> None:
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            services.unavailable("no redis-server binary (Debian package redis-server) to start a Redis of the test's own")
        self.folder = folder
        self.port = free_port()
        self.persistence = persistence
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """redis:// URL of database 0."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> OwnRedis:
        """Start and wait until it answers PING."""
        self.folder.mkdir(parents=True, exist_ok=True)
        save = ["--save", "1 1", "--appendonly", "yes"] if self.persistence else ["--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder), *save],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def freeze(self) -> None:
        """SIGSTOP the server."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT the server."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        """Stop the server (thawed first)."""
        if self.process is None:
            return
        try:
            self.thaw()
        except ProcessLookupError:
            pass
        self.process.kill()
        self.process.wait(10)
        self.process = None

    def restart(self) -> None:
        """Kill and start again on the same port (without persistence: empty)."""
        self.stop()
        self.start()
