"""Several real processes sharing one SQL or Redis store lose no change."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from flags import REFACTORED_UPLOAD, FlagService, open_store

# The memory store lives in one process; every other store is shared.
SHARED_STORE_KINDS = [
    "sqlite",
    pytest.param("postgresql", marks=pytest.mark.postgres),
    pytest.param("redis", marks=pytest.mark.redis),
]
ROOT = Path(__file__).resolve().parents[2]

WORKER = """
import sys
from flags import open_service
service = open_service(sys.argv[1])
for n in range(10):
    service.allow("refactored_upload", [f"{sys.argv[2]}-{n}"], actor=f"process-{sys.argv[2]}")
service.close()
"""


@pytest.mark.parametrize("store_url", SHARED_STORE_KINDS, indirect=True)
def test_three_processes_adding_users_at_once_lose_none_of_them(store_url, clock):
    service = FlagService(open_store(store_url), clock=clock)
    service.ensure_flags()
    workers = [
        subprocess.Popen([sys.executable, "-c", WORKER, store_url, f"p{index}"], cwd=ROOT, stderr=subprocess.PIPE, text=True)
        for index in range(3)
    ]
    for worker in workers:
        _, stderr = worker.communicate(timeout=60)
        assert worker.returncode == 0, stderr
    assert len(service.get(REFACTORED_UPLOAD).allow) == 30
    entries = service.history(flag=REFACTORED_UPLOAD, action="allow", limit=100)
    assert len(entries) == 30
    assert {entry.actor for entry in entries} == {"process-p0", "process-p1", "process-p2"}
    service.close()
