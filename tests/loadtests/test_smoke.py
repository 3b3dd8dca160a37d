"""CI smoke: a short real load test, Locust in its own process against the portal the
driver starts (`python -m loadtests.run`), must end with no unexpected failure."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT

SMOKE_SECONDS = 12
WALL_LIMIT_S = 60


@pytest.mark.slow
def test_a_short_load_test_of_both_workflows_has_no_unexpected_failure(tmp_path):
    results = tmp_path / "results"
    started = time.monotonic()
    # Locust's gevent monkey-patching stays in that child process, away from pytest's.
    done = subprocess.run(
        [sys.executable, "-m", "loadtests.run", "--users", "6", "--spawn-rate", "6", "--run-time", f"{SMOKE_SECONDS}s",
         "--results", str(results), "--pool-per-schema", "1", "--think-time", "0.3"],
        cwd=ROOT, capture_output=True, text=True, timeout=WALL_LIMIT_S,
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 0, f"load test failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}"
    assert elapsed < WALL_LIMIT_S
    summary = json.loads((results / "summary.json").read_text())
    assert summary["unexpected_failures"] == 0, summary["failure_reasons"]
    assert summary["by_workflow"]["direct"]["requests"] > 0
    assert summary["by_workflow"]["staged"]["requests"] > 0
    names = summary["by_name"]
    for endpoint in ("/upload", "/upload_staged", "/review_staged/[id]/[file]"):
        assert names[endpoint]["requests"] > 0, endpoint
    assert names.get("/confirm_staged/[id]/[file]", {}).get("requests", 0) + \
        names.get("/discard_staged_update/[id]/[file]", {}).get("requests", 0) > 0
    # Blank ids and PDFs were sent, and refused the way the README says: expected, not failed.
    assert summary["totals"]["expected_errors"] > 0
    assert summary["run"]["started_portal"] and summary["run"]["locust_exit_code"] == 0
    for report in ("locust_stats.csv", "locust_failures.csv", "report.html", "locust.json"):
        assert (results / report).stat().st_size > 0, report
    assert "TOTAL" in done.stdout
    assert not (results / "instance").exists()  # the started portal's instance folder is cleaned up
