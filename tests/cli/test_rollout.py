"""`harness rollout ...` as an operator uses it: clear refusals with exit 2, status and history."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from app.cli.flags import _default_actor
from app.cli.rollout import rollout_group
from flags.audit import with_os_user

# The CLI records the operating-system user beside the --actor it is given.
DANA = with_os_user("dana", _default_actor())


@pytest.fixture
def run(tmp_path, sqlite_url):
    env = {"HARNESS_INSTANCE_PATH": str(tmp_path / "instance"), "HARNESS_DATABASE_URL": sqlite_url,
           "HARNESS_FLAG_STORE_URL": sqlite_url, "HARNESS_ENV": "test"}

    def invoke(*args: str):
        return CliRunner().invoke(rollout_group, list(args), env=env, catch_exceptions=False)

    return invoke


@pytest.mark.parametrize(("args", "message"), [
    (("start", "nope"), "unknown flag 'nope'"),
    (("start", "refactored_upload", "--steps", "50,25"), "steps must increase"),
    (("start", "refactored_upload", "--steps", "a,b"), "comma-separated percents"),
    (("start", "refactored_upload", "--bake", "soon"), "a duration is a number"),
    (("start", "refactored_upload", "--gates", "errors,vibes"), "unknown gate"),
    (("pause", "refactored_upload"), "no running or paused plan"),
    (("resume", "refactored_upload"), "no running or paused plan"),
    (("abort", "refactored_upload", "--reason", "x"), "no running or paused plan"),
    (("status", "nope"), "unknown flag"),
])
def test_misuse_exits_2_with_the_reason(run, args, message):
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_a_second_plan_on_the_same_flag_is_refused(run):
    assert run("start", "refactored_upload", "--bake", "30m").exit_code == 0
    result = run("start", "refactored_upload")
    assert result.exit_code == 2 and "already active" in result.output


def test_start_pause_resume_abort_and_history_tell_the_story(run):
    assert "steps 25,50,75,100, bake 1800 s" in run("start", "refactored_upload", "--bake", "30m", "--actor", "dana").output
    status = run("status", "refactored_upload")
    assert "running, step 1/4 at 25%" in status.output and "waiting for the controller" in status.output
    assert "nothing is acting on this plan" in status.output
    assert run("pause", "refactored_upload", "--reason", "lunch", "--actor", "dana").exit_code == 0
    again = run("pause", "refactored_upload")
    assert again.exit_code == 2 and "already paused" in again.output
    assert "running again at step 1" in run("resume", "refactored_upload", "--actor", "dana").output
    assert run("abort", "refactored_upload").exit_code == 2  # --reason is required
    assert "aborted" in run("abort", "refactored_upload", "--reason", "wrong week", "--actor", "dana").output
    plans = json.loads(run("status", "--json").output)["plans"]
    assert plans[0]["status"] == "aborted" and plans[0]["reason"] == f"aborted by {DANA}: wrong week"
    actions = [d["action"] for d in json.loads(run("history", "refactored_upload", "--json").output)]
    assert actions == ["abort", "resume", "pause", "start"]
    assert f"paused by {DANA}: lunch" in run("history", "refactored_upload").output


def test_run_applies_the_first_step_and_says_it_holds_the_lease(run):
    run("start", "refactored_upload", "--steps", "10,100")
    result = run("run", "--iterations", "1")
    assert result.exit_code == 0, result.output
    assert "step 1 step: 10%: plan started" in result.output and "holding the lease" in result.output


def test_an_unmigrated_database_is_a_clear_error(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    env = {"HARNESS_INSTANCE_PATH": str(tmp_path / "i"), "HARNESS_DATABASE_URL": url, "HARNESS_FLAG_STORE_URL": "memory://"}
    result = CliRunner().invoke(rollout_group, ["status"], env=env, catch_exceptions=False)
    assert result.exit_code == 1 and "harness db upgrade" in result.output


def test_the_guard_takes_metrics_urls_or_the_gates_not_both_nor_neither(tmp_path, sqlite_url):
    from app.cli.guard import guard_command

    env = {"HARNESS_INSTANCE_PATH": str(tmp_path / "i"), "HARNESS_DATABASE_URL": sqlite_url,
           "HARNESS_FLAG_STORE_URL": sqlite_url}
    neither = CliRunner().invoke(guard_command, ["--iterations", "1"], env=env)
    assert neither.exit_code == 2 and "--metrics-url" in neither.output and "--gates" in neither.output
    gates = CliRunner().invoke(guard_command, ["--gates", "--iterations", "1"], env=env, catch_exceptions=False)
    assert gates.exit_code == 0 and "sequential gates" in gates.output
