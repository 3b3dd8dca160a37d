"""docs/flags.md's OpenFeature example, run exactly as written, as a separate Python process
reading `refactored_upload` from a real Redis store."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from redis import Redis

from flags import REFACTORED_UPLOAD, open_service
from tests.services import redis_base_url

DOC = Path(__file__).resolve().parents[2] / "docs" / "flags.md"
MARKER = "<!-- example: openfeature-service"


def example() -> str:
    """The fenced Python block that follows the example marker in docs/flags.md."""
    text = DOC.read_text()
    match = re.search(re.escape(MARKER) + r"[^\n]*\n```python\n(.*?)\n```", text, re.S)
    assert match, f"no example block after {MARKER!r} in {DOC}"
    return match.group(1)


def run_example(store_url: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARNESS_")}
    env["HARNESS_FLAG_STORE_URL"] = store_url
    # A directory with no project files: the service sees only the installed packages.
    return subprocess.run([sys.executable, "-c", example()], env=env, cwd="/", capture_output=True, text=True, timeout=60)


def test_the_example_is_ten_lines_of_code():
    code = [line for line in example().splitlines() if line.strip()]
    assert len(code) <= 10, code


@pytest.mark.redis
def test_the_documented_service_reads_refactored_upload_from_the_redis_store():
    base = redis_base_url()
    prefix = f"test:doc:{uuid.uuid4().hex}"
    url = f"{base}{'&' if '?' in base else '?'}prefix={prefix}"
    operator = open_service(url)
    try:
        operator.ensure_flags()
        operator.allow(REFACTORED_UPLOAD, ["reviewer-7"], actor="test", reason="doc example")
        result = run_example(url)
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines() == ["reviewer-7 True refactored TARGETING_MATCH", "batch-job False original DEFAULT"]
        operator.set_percent(REFACTORED_UPLOAD, 100, actor="test")
        operator.kill(REFACTORED_UPLOAD, actor="test", reason="doc example")
        assert run_example(url).stdout.splitlines() == ["reviewer-7 False original DISABLED", "batch-job False original DISABLED"]
    finally:
        operator.close()
        client = Redis.from_url(base)
        for key in client.scan_iter(match=f"{prefix}:*"):
            client.delete(key)
        client.close()


def test_with_the_store_down_the_documented_service_gets_defaults_and_no_exception():
    result = run_example("redis://127.0.0.1:1/0?socket_timeout=0.2&socket_connect_timeout=0.2")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["reviewer-7 False None ERROR", "batch-job False None ERROR"]
    assert "Traceback" not in result.stderr
