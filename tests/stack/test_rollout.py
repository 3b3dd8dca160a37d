"""The rollout controller on the stack: a plan at 50%, the refactored path failing on half its
uploads (fault injection), routed traffic through nginx to both instances, and the
controller process (the command of ops/systemd/arb-portal-rollout.service) kills the flag.

This controller reads its evidence from the database (the routed uploads recorded in
`uploaded_files`): it checks the controller acts on the real shape (two instances, one
shared database and flag store). `test_rollout_prometheus.py` runs the same rollback with
the controller reading only Prometheus (`--prometheus URL`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app.harness.names import ROLLOUT_ACTOR
from flags import REFACTORED_UPLOAD
from tests.stack.conftest import report
from tests.stack.controller_runs import FAULT, harness, run_controller_under_fault

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

ROLLBACK_WAIT_S = 180


@pytest.fixture(scope="module")
def stack_portal_env() -> dict[str, str]:
    """A rehearsal stack; the portals' own controller threads off, so the unit's process acts."""
    return {"HARNESS_ENV": "development", "HARNESS_FAULTS": "", "HARNESS_ROLLOUT_INTERVAL_S": "0"}


def test_the_rollout_controller_kills_the_flag_when_the_refactored_path_fails(stack, good_samples):
    started = harness(stack, "rollout", "start", REFACTORED_UPLOAD, "--steps", "50,100", "--bake", "10m",
                      "--min-uploads", "20", "--gates", "errors", "--rollback", "kill")
    assert started.returncode == 0, started.stdout + started.stderr
    run = run_controller_under_fault(stack, good_samples, Path(stack.folder) / "logs" / "controller.log",
                                     ROLLBACK_WAIT_S)
    entry = run.kill_entry
    report(f"rollout controller killed {REFACTORED_UPLOAD} {run.waited_s:.0f} s after {FAULT} under routed traffic "
           f"through nginx ({len(run.statuses)} uploads, {run.statuses.count(503)} answered 503); "
           f"audit: {entry.actor if entry else None}: {entry.reason if entry else None}")
    assert run.killed, f"the controller did not kill the flag within {ROLLBACK_WAIT_S} s; see {run.log}"
    assert entry is not None and entry.actor == ROLLOUT_ACTOR
