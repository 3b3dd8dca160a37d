"""Access to the real PostgreSQL and Redis servers the suite runs against when CI names them.

`HARNESS_TEST_POSTGRES_URL` and `HARNESS_TEST_REDIS_URL` name the servers. Without them a
test that needs one is skipped with the reason; with `HARNESS_TEST_REQUIRE_SERVICES=1`
(set by `.ci/run`) a missing or unreachable server fails the test instead, so CI cannot
pass by skipping.
"""

from __future__ import annotations

import os
import uuid

import pytest

POSTGRES_ENV = "HARNESS_TEST_POSTGRES_URL"
REDIS_ENV = "HARNESS_TEST_REDIS_URL"


def services_required() -> bool:
    """True in CI, where a missing service is a failure rather than a skip."""
    return os.environ.get("HARNESS_TEST_REQUIRE_SERVICES") == "1"


def unavailable(reason: str) -> None:
    """Skip (locally) or fail (in CI) with the reason."""
    if services_required():
        pytest.fail(f"{reason} (HARNESS_TEST_REQUIRE_SERVICES=1, so this is a failure)")
    pytest.skip(reason)


def postgres_base_url() -> str:
    """The configured PostgreSQL URL, or skip/fail."""
    url = os.environ.get(POSTGRES_ENV, "")
    if not url:
        unavailable(f"PostgreSQL tests need {POSTGRES_ENV} (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)")
    return url


def redis_base_url() -> str:
    """The configured Redis URL, or skip/fail."""
    url = os.environ.get(REDIS_ENV, "")
    if not url:
        unavailable(f"Redis tests need {REDIS_ENV} (e.g. redis://127.0.0.1:6379/0)")
    return url


def new_schema_name(prefix: str = "t") -> str:
    """A schema name no other test session uses (sessions may run side by side)."""
    return f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"


def postgres_url_for_schema(base_url: str, schema: str) -> str:
    """The base URL with every connection's search_path set to `schema`."""
    sep = "&" if "?" in base_url else "?"
    return f"{base_url}{sep}options=-csearch_path%3D{schema}"
