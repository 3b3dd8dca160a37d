"""Locust distributed (`python -m loadtests.run --workers N`): a master and N worker
processes, every worker's samples merged into one exact summary."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from loadtests.run import merge_samples
from tests.conftest import ROOT


def test_merged_samples_join_every_workers_records_over_the_whole_window(tmp_path):
    parts = []
    for n, (started, stopped) in enumerate([(10.0, 20.0), (9.5, 21.0)]):
        path = tmp_path / f"samples-worker-{n}.json"
        path.write_text(json.dumps({"started": started, "stopped": stopped, "mix": {"good": 1}, "user_ids": 5,
                                    "pool": {"good": 1}, "records": [{"name": f"w{n}-{k}"} for k in range(3)]}))
        parts.append(path)
    merged = merge_samples(parts)
    assert [r["name"] for r in merged["records"]] == ["w0-0", "w0-1", "w0-2", "w1-0", "w1-1", "w1-2"]
    assert (merged["started"], merged["stopped"], merged["workers"]) == (9.5, 21.0, 2)


@pytest.mark.slow
def test_a_distributed_load_test_runs_a_master_and_two_workers(tmp_path):
    results = tmp_path / "results"
    done = subprocess.run(
        [sys.executable, "-m", "loadtests.run", "--workers", "2", "--users", "4", "--spawn-rate", "4", "--run-time", "8s",
         "--results", str(results), "--pool-per-schema", "1", "--think-time", "0.3"],
        cwd=ROOT, capture_output=True, text=True, timeout=90,
    )
    assert done.returncode == 0, f"exit {done.returncode}:\n{done.stdout}\n{done.stderr}"
    summary = json.loads((results / "summary.json").read_text())
    assert summary["unexpected_failures"] == 0, summary["failure_reasons"]
    assert summary["run"]["locust_workers"] == 2
    workers = [json.loads((results / f"samples-worker-{n}.json").read_text()) for n in (1, 2)]
    assert all(w["records"] for w in workers), "both workers made requests"
    assert summary["totals"]["requests"] == sum(len(w["records"]) for w in workers)
    assert "Worker" in (results / "locust.log").read_text()  # the master saw its workers
