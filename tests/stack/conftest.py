"""The loopback production stack for the end-to-end tests: nginx, two portal instances,
PostgreSQL, Redis and Prometheus, started once per test module on ports the OS picks.

Needs the `nginx` and `prometheus` programs (Debian packages; `.ci/run` installs both)
and the PostgreSQL and Redis servers the suite is pointed at. Without any of them the
tests skip with the reason; with HARNESS_TEST_REQUIRE_SERVICES=1 (CI) they fail.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from loadtests.stack import render
from loadtests.stack.propagation import instance_logs  # noqa: F401 - the tests' import point
from loadtests.stack.runner import Ports, Stack, StackConfig, StackError, StackState, stop
from loadtests.workbooks import build_pool
from tests import services

# The alert the fault-injection test waits for, with `for:` shortened in a copy of the
# shipped rules (ops/prometheus/rules.yml is never edited); groups evaluated every 5 s.
FAST_ALERT = "PortalRefactoredServerErrorRateHigher"
FAST_FOR = "10s"
FAST_INTERVAL = "5s"


def require_programs() -> None:
    """Skip (or fail in CI) when nginx or prometheus is missing."""
    missing = [tool for tool in ("nginx", "prometheus") if not shutil.which(tool)]
    if missing:
        services.unavailable(f"the stack tests need {' and '.join(missing)} (Debian packages; .ci/run installs them)")


def start(folder: Path, portal_env: dict[str, str] | None = None) -> StackState:
    """A stack of its own under `folder` (schema and flag prefix unique to this run)."""
    return start_stack(folder, portal_env)[1]


def start_stack(folder: Path, portal_env: dict[str, str] | None = None) -> tuple[Stack, StackState]:
    """The started stack (to restart its instances) and its state."""
    require_programs()
    postgres, redis = services.postgres_base_url(), services.redis_base_url()
    folder.mkdir(parents=True, exist_ok=True)
    rules = folder / "rules-fast.yml"
    rules.write_text(render.rules_override(render.RULES.read_text(), {FAST_ALERT: FAST_FOR}, FAST_INTERVAL))
    config = StackConfig(folder=folder, ports=Ports.free(), name=services.new_schema_name("stack"),
                         postgres_url=postgres, redis_url=redis, rules=rules, portal_env=portal_env or {})
    stack = Stack(config)
    try:
        return stack, stack.up()
    except StackError as exc:
        services.unavailable(f"the stack did not start: {exc}")
        raise


@pytest.fixture(scope="module")
def stack_portal_env() -> dict[str, str]:
    """Extra HARNESS_* settings for the module's portal instances (a module overrides it)."""
    return {}


@pytest.fixture(scope="module")
def running_stack(tmp_path_factory, stack_portal_env):
    """(Stack, StackState) for one test module, stopped (and its data dropped) afterwards."""
    folder = tmp_path_factory.mktemp("stack")
    yield start_stack(folder, portal_env=stack_portal_env)
    stop(folder)


@pytest.fixture(scope="module")
def stack(running_stack) -> StackState:
    """The module's running stack: its addresses, processes and data."""
    return running_stack[1]


@pytest.fixture(scope="module")
def db(stack):
    """An engine on the stack's schema (to read what was recorded)."""
    engine = create_engine(stack.database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def good_samples():
    """Good workbooks of every schema, encoded as uploads (generated once)."""
    return build_pool(per_schema=2, seed=16, kinds=("good",))["good"]


def uploads_recorded(engine, since_id: int = 0) -> list[dict]:
    """Every uploaded_files row after `since_id`."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, status, route, ingest_path, error_type FROM uploaded_files "
                                 "WHERE id > :since ORDER BY id"), {"since": since_id})
        return [dict(row._mapping) for row in rows]


def last_upload_id(engine) -> int:
    """The highest uploaded_files id so far (0 when empty)."""
    with engine.connect() as conn:
        return conn.execute(text("SELECT COALESCE(MAX(id), 0) FROM uploaded_files")).scalar_one()


def nginx_access_log(state: StackState) -> Path:
    """nginx's access log (request id and the upstream that served it)."""
    return Path(state.folder) / "nginx" / "access.log"


def report(line: str) -> None:
    """Print a measured figure so it shows in the test log (-s or -rA)."""
    print(f"[stack] {line}", flush=True)
