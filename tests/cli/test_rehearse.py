"""`harness rehearse`: refusals, and one whole rehearsal through gunicorn and Locust."""

from __future__ import annotations

import json
import pytest
from click.testing import CliRunner

from app.cli.rehearse import rehearse_command

@pytest.mark.parametrize(("args", "env", "message"), [
    (["--inject-at", "4"], {}, "choose a step below 100%"),
    (["--steps", "50,25"], {}, "steps must increase"),
    ([], {"HARNESS_ENV": "production"}, "refused with HARNESS_ENV=production"),
])
def test_a_rehearsal_that_cannot_run_exits_2_with_the_reason(tmp_path, args, env, message):
    result = CliRunner().invoke(rehearse_command, [*args, "--out", str(tmp_path)], env=env)
    assert result.exit_code == 2, result.output
    assert message in result.output


@pytest.mark.slow
def test_a_rehearsal_rolls_back_the_injected_regression_and_writes_its_timeline(tmp_path):
    out = tmp_path / "rehearsal"
    # In-process (the portal and Locust are its subprocesses), so what it prints is read here.
    result = CliRunner().invoke(rehearse_command, ["--steps", "25,50,100", "--bake", "10s", "--min-uploads", "20",
                                                   "--warmup", "10", "--users", "20", "--inject-at", "2",
                                                   "--timeout", "5m", "--out", str(out)], env={"HARNESS_ENV": None})
    print(result.output[-4000:])
    assert result.exit_code == 0
    summary = json.loads((out / "rehearsal.json").read_text())
    assert summary["behaved"] and summary["status"] == "rolled_back" and summary["rolled_back_at_step"] == 2
    assert summary["guard_rollbacks_metric"] == 1.0
    assert (out / "timeline.svg").read_text().startswith("<?xml")
    assert "FAULT" in result.output and "ROLLBACK" in result.output
    from app.cli import main

    if "report" in main.commands:  # `harness report` (issue 11) in this build: the A/B report is written
        assert (out / "report" / "ab-report.json").exists()
    else:
        assert "not part of this build" in summary["report"]
