"""The processes of a stack: started detached in sessions of their own, stopped by pid.

Every process is started with `start_new_session`, so its pid is its process group id and
signalling the group reaches its children (gunicorn workers, nginx workers) and nothing
else. A pid is signalled only while /proc still shows the recorded program under it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

# Processes this Python process started, by pid: kept so they are waited for (reaped) when
# stopped, instead of lingering as zombies or being garbage-collected while running.
_CHILDREN: dict[int, subprocess.Popen] = {}


class StackError(RuntimeError):
    """The stack could not be started (the message says which part and where its log is)."""


@dataclass(frozen=True)
class Process:
    """One started process: its role, pid (= its process group) and executable."""

    role: str
    pid: int
    executable: str
    log: str


def _get(url: str, timeout: float = 2.0) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, OSError):
        return 0


def wait_for(url: str, process: subprocess.Popen | None, what: str, log: Path, timeout: float = 60.0) -> None:
    """Wait until `url` answers 200; fail naming `what` and its log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise StackError(f"{what} exited with {process.returncode}; see {log}")
        if _get(url) == 200:
            return
        time.sleep(0.2)
    raise StackError(f"{what} did not answer {url} within {timeout:.0f} s; see {log}")


def is_running(process: Process) -> bool:
    """True while `process.pid` is still the program the state file says it is."""
    try:
        cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    # A zombie has an empty command line. `harness serve` execs gunicorn in the same pid.
    name = Path(process.executable).name
    return name in cmdline or (name == "harness" and "gunicorn" in cmdline)


def stop_process(process: Process, timeout: float = 20.0) -> bool:
    """SIGTERM the process's group, SIGKILL it if it lingers; False if it was not running."""
    if not is_running(process):
        return False
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_running(process):
            _reap(process.pid)
            return True
        _reap(process.pid)
        time.sleep(0.1)
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    _reap(process.pid)
    return True


def kill_process(process: Process) -> None:
    """SIGKILL the process's whole group at once (a crash, not a shutdown)."""
    if is_running(process):
        os.killpg(process.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while is_running(process) and time.monotonic() < deadline:
            _reap(process.pid)
            time.sleep(0.05)


def _reap(pid: int) -> None:
    """Collect the exit status if this process started `pid`."""
    child = _CHILDREN.get(pid)
    if child is not None and child.poll() is not None:
        del _CHILDREN[pid]


def worker_pids(master_pid: int) -> list[int]:
    """The gunicorn workers of a master (its child processes)."""
    try:
        children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    except OSError:
        return []
    return sorted(int(pid) for pid in children)


def start_detached(argv: list[str], log: Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.Popen:
    """Start `argv` in a session of its own, output appended to `log`; kept for reaping."""
    with log.open("ab") as handle:
        popen = subprocess.Popen(argv, env=env, cwd=cwd, stdout=handle, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True)
    _CHILDREN[popen.pid] = popen
    return popen
