"""`harness flags ...` and `harness rollback` as an operator uses them (click's CliRunner)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from app.cli.flags import flags_group, rollback_command


@pytest.fixture
def run(tmp_path):
    """Invoke a command with the flag store in a private SQLite file; returns the result."""
    env = {
        "HARNESS_INSTANCE_PATH": str(tmp_path / "instance"),
        "HARNESS_FLAG_STORE_URL": f"sqlite:///{tmp_path / 'flags.db'}",
        "HARNESS_ENV": "test",
    }

    def invoke(command, *args: str):
        return CliRunner().invoke(command, list(args), env=env, catch_exceptions=False)

    return invoke


def test_list_shows_the_four_flags_created_on_first_use(run):
    result = run(flags_group, "list")
    assert result.exit_code == 0, result.output
    for name in ("refactored_upload", "refactored_staged_upload", "shadow_upload", "shadow_staged_upload"):
        assert name in result.output


def test_set_percent_then_show_reports_it(run):
    assert run(flags_group, "set", "refactored_upload", "--percent", "12.5", "--actor", "alice").exit_code == 0
    result = run(flags_group, "show", "refactored_upload", "--json")
    assert json.loads(result.output)["percent"] == 12.5
    assert "12.5%" in run(flags_group, "show", "refactored_upload").output


def test_allow_deny_unallow_undeny_change_the_lists(run):
    run(flags_group, "allow", "refactored_upload", "qa-1", "qa-2", "--actor", "bob")
    run(flags_group, "deny", "refactored_upload", "ceo", "--actor", "bob")
    run(flags_group, "unallow", "refactored_upload", "qa-2", "--actor", "bob")
    state = json.loads(run(flags_group, "show", "refactored_upload", "--json").output)
    assert (state["allow"], state["deny"]) == (["qa-1"], ["ceo"])
    run(flags_group, "undeny", "refactored_upload", "ceo", "--actor", "bob")
    assert json.loads(run(flags_group, "show", "refactored_upload", "--json").output)["deny"] == []


def test_kill_needs_a_reason_and_resume_restores_the_flag(run):
    assert run(flags_group, "kill", "refactored_upload").exit_code == 2
    result = run(flags_group, "kill", "refactored_upload", "--reason", "error rate", "--actor", "carol")
    assert result.exit_code == 0 and "KILLED" in result.output
    assert json.loads(run(flags_group, "show", "refactored_upload", "--json").output)["killed"] is True
    assert run(flags_group, "resume", "refactored_upload").exit_code == 0
    assert json.loads(run(flags_group, "show", "refactored_upload", "--json").output)["killed"] is False


def test_rollback_kills_both_refactored_flags(run):
    run(flags_group, "set", "refactored_upload", "--percent", "50")
    result = run(rollback_command, "--reason", "latency", "--actor", "pager")
    assert result.exit_code == 0, result.output
    assert "refactored_upload" in result.output and "refactored_staged_upload" in result.output
    states = json.loads(run(flags_group, "list", "--json").output)
    assert {s["name"]: s["killed"] for s in states} == {
        "refactored_upload": True,
        "refactored_staged_upload": True,
        "shadow_upload": False,
        "shadow_staged_upload": False,
    }
    assert states[0]["percent"] == 50
    assert run(rollback_command).exit_code == 2  # --reason is required


def test_history_lists_changes_newest_first_with_filters(run):
    run(flags_group, "set", "refactored_upload", "--percent", "25", "--actor", "alice", "--reason", "week 1")
    run(flags_group, "kill", "refactored_upload", "--reason", "errors", "--actor", "carol")
    entries = json.loads(run(flags_group, "history", "--flag", "refactored_upload", "--json").output)
    given = [(e["action"], e["actor"].split(" (os user ")[0]) for e in entries][:2]  # the OS user is recorded beside
    assert given == [("kill", "carol"), ("percent", "alice")]
    assert entries[1]["old"] == 0.0 and entries[1]["new"] == 25.0 and entries[1]["reason"] == "week 1"
    text = run(flags_group, "history", "--actor", "alice").output
    assert "percent" in text and "week 1" in text and "carol" not in text


@pytest.mark.parametrize(
    "args, message",
    [
        (["show", "refactored_uplod"], "unknown flag 'refactored_uplod'"),
        (["set", "nope", "--percent", "5"], "unknown flag 'nope'"),
        (["set", "refactored_upload", "--percent", "150"], "percent must be from 0 to 100"),
        (["set", "refactored_upload", "--percent", "lots"], "percent must be a number"),
        (["allow", "nope", "u1"], "unknown flag"),
        (["history", "--since", "yesterday"], "--since must be an ISO date"),
    ],
)
def test_unknown_flags_and_bad_values_exit_2_with_a_clear_message(run, args, message):
    result = run(flags_group, *args)
    assert result.exit_code == 2
    assert message in result.output


def test_an_unreachable_store_exits_1_with_the_reason(tmp_path):
    env = {
        "HARNESS_INSTANCE_PATH": str(tmp_path / "instance"),
        "HARNESS_FLAG_STORE_URL": "redis://127.0.0.1:1/0",
        "HARNESS_ENV": "test",
    }
    result = CliRunner().invoke(flags_group, ["list"], env=env)
    assert result.exit_code == 1
    assert "flag store" in result.output and "unavailable" in result.output


def test_an_unsupported_store_url_exits_1(tmp_path):
    env = {"HARNESS_INSTANCE_PATH": str(tmp_path), "HARNESS_FLAG_STORE_URL": "mongodb://x", "HARNESS_ENV": "test"}
    result = CliRunner().invoke(flags_group, ["list"], env=env)
    assert result.exit_code == 1
    assert "unsupported flag store" in result.output


def test_the_os_user_is_recorded_beside_the_actor_given_and_the_actor_filter_still_finds_it(run):
    import getpass

    os_user = getpass.getuser()
    run(flags_group, "set", "refactored_upload", "--percent", "5", "--actor", "someone-else")
    run(flags_group, "set", "refactored_upload", "--percent", "6")
    entries = json.loads(run(flags_group, "history", "--flag", "refactored_upload", "--json").output)
    assert [(e["action"], e["actor"]) for e in entries][:2] == [("percent", os_user),
                                                               ("percent", f"someone-else (os user {os_user})")]
    only = json.loads(run(flags_group, "history", "--actor", "someone-else", "--json").output)
    assert only and {e["actor"] for e in only} == {f"someone-else (os user {os_user})"}
    assert "percent" in [e["action"] for e in only]  # (the first change also created the flag)


@pytest.mark.parametrize("args, message", [
    (["set", "refactored_upload", "--percent", "5", "--reason", "r" * 1001], "at most 1000"),
    (["kill", "refactored_upload", "--reason", "r" * 1001], "at most 1000"),
    (["allow", "refactored_upload", "u" * 256], "at most 255"),
])
def test_input_past_its_bound_is_refused_with_a_message_and_changes_nothing(run, args, message):
    result = run(flags_group, *args)
    assert result.exit_code == 2 and message in result.output
    state = json.loads(run(flags_group, "show", "refactored_upload", "--json").output)
    assert state["percent"] == 0 and not state["killed"] and state["allow"] == []
