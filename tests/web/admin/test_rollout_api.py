"""The rollout API: plans and decisions with their evidence, read with any admin token."""

from __future__ import annotations

import pytest

from app import create_app
from app.compose import services_of
from app.config import AdminToken
from app.harness.rollout import operations
from app.harness.rollout.plan import Plan
from app.harness.rollout.runner import utc_now
from app.harness.rollout.store import SqlStore
from tests.conftest import make_settings

RO = "r" * 24


@pytest.fixture
def portal(tmp_path, database_url):
    app = create_app(settings=make_settings(tmp_path, database_url,
                                            admin_tokens=(AdminToken("auditor", RO, can_write=False),)))
    yield app
    services_of(app).db.dispose()


def test_a_started_plan_is_listed_with_its_decisions(portal):
    services = services_of(portal)
    operations.start(SqlStore(services.db.engine), services.flags, Plan("refactored_upload"), utc_now(), "dana")
    client = portal.test_client()
    headers = {"Authorization": f"Bearer {RO}"}
    listed = client.get("/admin/api/rollout", headers=headers).get_json()
    assert [p["flag"] for p in listed["plans"]] == ["refactored_upload"] and listed["lease"]["holder"] is None
    one = client.get("/admin/api/rollout/refactored_upload", headers=headers).get_json()
    assert one["plan"]["status"] == "running" and one["decisions"][0]["action"] == "start"
    assert client.get("/admin/api/rollout/nope", headers=headers).status_code == 404
    assert client.get("/admin/api/rollout/refactored_upload?limit=x", headers=headers).status_code == 400
    assert client.get("/admin/api/rollout").status_code == 401
