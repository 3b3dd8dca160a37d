"""`make stack` / `make stack-down`: every address printed, and down stops exactly the pids it
started (children included), drops the stack's data, and leaves any other process alone."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from loadtests.stack.runner import STATE_FILE, Process, StackState, describe, stop, stop_process, worker_pids
from tests.stack.conftest import start

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]


def _alive(pid: int) -> bool:
    try:
        return bool(Path(f"/proc/{pid}/cmdline").read_bytes())  # a zombie has an empty one
    except OSError:
        return False


def test_a_pid_that_is_no_longer_the_program_started_is_left_alone():
    """A recorded pid reused by another program (here: this test) is not signalled."""
    assert stop_process(Process("nginx", os.getpid(), "/usr/sbin/nginx", "/dev/null")) is False
    assert _alive(os.getpid())


def test_down_stops_every_process_up_started_and_drops_its_data(tmp_path):
    state = start(tmp_path / "stack")
    printed = describe(state)
    for url in [state.nginx_url, *state.portal_urls, state.prometheus_url]:
        assert url in printed
    assert state.schema in printed and state.redis_prefix in printed
    pids = [p.pid for p in state.processes]
    children = [pid for p in state.processes if p.role.startswith("portal-") for pid in worker_pids(p.pid)]
    assert len(children) == 2 * state.workers and all(map(_alive, pids + children))
    assert StackState.load(tmp_path / "stack") is not None

    stopped = stop(tmp_path / "stack")

    assert sorted(stopped) == sorted(f"{p.role} (pid {p.pid})" for p in state.processes)
    assert not any(map(_alive, pids + children))
    assert not (tmp_path / "stack" / STATE_FILE).exists()
    engine = create_engine(state.postgres_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM information_schema.schemata WHERE schema_name = :s"),
                            {"s": state.schema}).scalar_one() == 0
    engine.dispose()
    assert stop(tmp_path / "stack") == []  # a second down finds nothing to stop
