"""The controller inside `harness serve`, for real: gunicorn workers of two instances on one
database, one lease; an instance killed mid-plan; a restart; a person's change."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import time

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, select

from app.cli.flags import flags_group
from app.cli.rollout import rollout_group
from app.harness.rollout import records
from loadtests.server import Server
from tests.harness.rollout.helpers import write_uploads

pytestmark = pytest.mark.slow
FLAG = "refactored_upload"


@pytest.fixture
def shared(tmp_path):
    """One SQLite database (data and flags) that every instance and command uses."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    env = {"HARNESS_DATABASE_URL": url, "HARNESS_FLAG_STORE_URL": url, "HARNESS_ROLLOUT_INTERVAL_S": "1",
           "HARNESS_ENV": "test", "HARNESS_INSTANCE_PATH": str(tmp_path / "cli"), "HARNESS_SHADOW_PROCESSES": "0"}
    engine = create_engine(url)
    yield env, engine
    engine.dispose()


def cli(env, group, *args):
    result = CliRunner().invoke(group, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def status(env) -> dict:
    return json.loads(cli(env, rollout_group, "status", FLAG, "--json"))


def step_decisions(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(select(records.decisions.c.action, records.decisions.c.percent, records.decisions.c.actor)
                            .where(records.decisions.c.action == "step").order_by(records.decisions.c.id)).all()


def instance(tmp_path, name, env) -> Server:
    serve_env = {k: v for k, v in env.items() if k != "HARNESS_INSTANCE_PATH"}
    return Server(tmp_path / name / "instance", workers=2, log_path=tmp_path / name / "server.log", env=serve_env)


def feed(engine, percent: float) -> None:
    """Enough routed upload records at the plan's split for its gates, dated over the next 2 s
    (after the step's settle time, so its window counts them all), as the portal writes them."""
    write_uploads(engine, dt.datetime.now(dt.UTC) + dt.timedelta(seconds=0.1), 2, rate=250, share=percent / 100,
                  seed=int(percent))


def holder_pid(env) -> int:
    holder = status(env)["lease"]["holder"]
    return int(holder.split(":")[1]) if holder else 0


def test_two_instances_share_one_lease_and_the_survivor_continues_the_plan(tmp_path, shared):
    env, engine = shared
    a, b = instance(tmp_path, "a", env), instance(tmp_path, "b", env)
    with a, b:
        cli(env, rollout_group, "start", FLAG, "--steps", "20,40,100", "--bake", "1s", "--min-uploads", "30",
            "--gates", "errors,srm")
        wait_for(lambda: status(env)["plans"][0]["step_started_at"], 30, "the first step")
        assert [row.percent for row in step_decisions(engine)] == [20.0]
        pid = holder_pid(env)
        owner, other = (a, b) if os.getpgid(pid) == a.process.pid else (b, a)
        assert os.getpgid(pid) == owner.process.pid
        # Four controller threads (2 instances x 2 workers) tick every second: one acts.
        time.sleep(3)
        assert [row.percent for row in step_decisions(engine)] == [20.0]
        os.killpg(owner.process.pid, signal.SIGKILL)  # the holder dies without releasing
        owner.process.wait(10)
        wait_for(lambda: "bake over" in str(status(env)["plans"][0]["last_evaluation"])
                 or holder_pid(env) and os.getpgid(holder_pid(env)) == other.process.pid, 30, "the survivor's lease")
        feed(engine, 20)
        wait_for(lambda: status(env)["plans"][0]["percent"] == 40, 30, "the survivor to take the lease and step")
        new_pid = holder_pid(env)
        assert os.getpgid(new_pid) == other.process.pid
        assert [row.percent for row in step_decisions(engine)] == [20.0, 40.0]
        history = cli(env, flags_group, "history", "--flag", FLAG)
        assert history.count("rollout-controller") == 2  # 0 -> 20, 20 -> 40: each step once


def test_a_restart_mid_plan_continues_from_the_stored_step_and_a_persons_change_pauses_it(tmp_path, shared):
    env, engine = shared
    with instance(tmp_path, "first", env):
        cli(env, rollout_group, "start", FLAG, "--steps", "10,30,100", "--bake", "1s", "--min-uploads", "30",
            "--gates", "errors,srm")
        wait_for(lambda: status(env)["plans"][0]["step_started_at"], 30, "the first step")
    # Stopped cleanly: the lease is released, the plan is where it was.
    assert status(env)["lease"]["holder"] is None
    assert status(env)["plans"][0]["percent"] == 10
    with instance(tmp_path, "second", env):
        wait_for(lambda: holder_pid(env), 30, "the restarted portal's controller")
        feed(engine, 10)
        wait_for(lambda: status(env)["plans"][0]["percent"] == 30, 30, "the restarted portal to continue")
        assert [row.percent for row in step_decisions(engine)] == [10.0, 30.0]
        cli(env, flags_group, "set", FLAG, "--percent", "5", "--actor", "alice", "--reason", "by hand")
        plan = wait_for(lambda: (s := status(env)["plans"][0])["status"] == "paused" and s, 30, "the plan to pause")
        assert "alice" in plan["reason"]
        time.sleep(2)
        assert json.loads(cli(env, flags_group, "show", FLAG, "--json"))["percent"] == 5  # left alone
