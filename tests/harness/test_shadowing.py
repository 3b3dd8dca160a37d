"""Shadow runs inside the portal: sampled by flag, no side effects, A/A noise floor zero."""

from __future__ import annotations

import glob
import os
import tempfile

import pytest
from sqlalchemy import func, select

from app import create_app
from app.compose import services_of
from app.config import AdminToken
from app.ingest.models import Incidence, PortalUpdate, UploadedFile, utcnow
from app.ingest.persistence import apply_merge
from app.workbook.generator import generate_workbook
from tests.conftest import make_settings, post_file

TOKEN = "r" * 24


@pytest.fixture
def shadowed(tmp_path, database_url, monkeypatch):
    # Scratch folders of this test's candidates only (other test sessions may share /tmp).
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    app = create_app(settings=make_settings(tmp_path, database_url, trust_user_header=True,
                                            admin_tokens=(AdminToken("auditor", TOKEN, can_write=False),)))
    flags = services_of(app).flags
    flags.set_percent("shadow_upload", 100, actor="test")
    flags.set_percent("shadow_staged_upload", 100, actor="test")
    yield app
    services_of(app).shadowing.close()
    services_of(app).db.dispose()


def _runs(app, **labels) -> float:
    return services_of(app).metrics.registry.get_sample_value("portal_shadow_runs_total", labels) or 0.0


def _snapshot(app) -> dict:
    portal = services_of(app)
    with portal.db.session() as s:
        incidences = {i.id_incidence: i.misc_json for i in s.execute(select(Incidence)).scalars()}
        updates = s.scalar(select(func.count()).select_from(PortalUpdate))
        uploads = s.scalar(select(func.count()).select_from(UploadedFile))
    folders = {name: sorted(os.listdir(getattr(portal.files, attr)))
               for name, attr in (("uploads", "root"), ("json", "json_dir"), ("staging", "staging"), ("processed", "processed"))}
    folders["uploads"] = [n for n in folders["uploads"] if n not in ("json", "staging", "processed")]
    scratch = sorted(glob.glob(os.path.join(tempfile.gettempdir(), "original-eval-*")))
    return {"incidences": incidences, "updates": updates, "uploads": uploads, "folders": folders, "scratch": scratch}


@pytest.mark.parametrize("control", ["original", "refactored"])
@pytest.mark.parametrize("route", ["upload", "upload_staged"])
@pytest.mark.parametrize("existing", [False, True], ids=["new-incidence", "existing-incidence"])
def test_a_shadowed_upload_leaves_only_what_the_control_wrote(shadowed, control, route, existing):
    app = shadowed
    flags = services_of(app).flags
    flag = "refactored_upload" if route == "upload" else "refactored_staged_upload"
    flags.set_percent(flag, 100 if control == "refactored" else 0, actor="test")
    id_incidence = 8100 + existing
    if existing:
        apply_merge(services_of(app).db, id_incidence, {"id_incidence": id_incidence, "staff_note": "kept"},
                    sector="Landfill", user="staff", comments=None, now=utcnow())
    before = _snapshot(app)
    workbook = generate_workbook("landfill_v01_00", seed=3, id_incidence=id_incidence)
    response = post_file(app.test_client(), f"/{route}", workbook.data, headers={"X-Portal-User": "dana"})
    assert response.status_code in (200, 201) and response.headers["X-Ingest-Path"] == control
    assert services_of(app).shadowing.runner.drain(30)
    after = _snapshot(app)
    body = response.get_json()
    staged = route == "upload_staged"
    # exactly the control's effects: one record, one saved file, its JSON if original, its staged file
    assert after["uploads"] == before["uploads"] + 1
    assert len(after["folders"]["uploads"]) == len(before["folders"]["uploads"]) + 1
    assert len(after["folders"]["json"]) == len(before["folders"]["json"]) + (control == "original")
    assert after["folders"]["staging"] == sorted(before["folders"]["staging"] + ([body["staged_filename"]] if staged else []))
    assert after["folders"]["processed"] == before["folders"]["processed"]
    assert after["scratch"] == before["scratch"]  # the original candidate's scratch folder is gone
    if staged:
        assert after["incidences"] == before["incidences"] and after["updates"] == before["updates"]
    else:
        stored = after["incidences"][id_incidence]
        assert stored["facility_name"] == workbook.expected["facility_name"]
        assert (stored.get("staff_note") == "kept") is existing
    # the shadow run happened, matched, and did not touch the user-path metrics
    route_label = "staged" if staged else "direct"
    assert _runs(app, route=route_label, primary=control, result="match") == 1
    requests = services_of(app).metrics.registry.get_sample_value(
        "portal_ingest_requests_total", {"route": route_label, "path": control, "outcome": "success", "error_type": "none"})
    assert requests == 1


def test_sampling_follows_the_shadow_flag_per_request(shadowed):
    app = shadowed
    flags = services_of(app).flags
    flags.set_percent("shadow_upload", 50, actor="test")
    client = app.test_client()
    data = generate_workbook("energy_v01_00", seed=4).data
    for _ in range(40):
        post_file(client, "/upload", data, headers={"X-Portal-User": "the-same-user"})
    assert services_of(app).shadowing.runner.drain(60)
    shadowed_runs = _runs(app, route="direct", primary="original", result="match")
    assert 8 <= shadowed_runs <= 32  # a share of requests, even for one user
    flags.kill("shadow_upload", actor="test", reason="stop shadowing")
    post_file(client, "/upload", data, headers={"X-Portal-User": "x"})
    assert services_of(app).shadowing.runner.drain(10)
    assert _runs(app, route="direct", primary="original", result="match") == shadowed_runs
    assert post_file(client, "/upload_refactored", data).status_code == 200  # pinned routes are not shadowed
    assert _runs(app, route="direct", primary="refactored", result="match") == 0


def _corpus():
    """The whole parity corpus: shared samples when present, every schema and variant,
    every hostile file, odd ids."""
    from tests.ingest.test_parity import CORPUS

    return [data for _, data in CORPUS]


@pytest.mark.parametrize("same_path", [True, False], ids=["A/A", "A/B"])
def test_the_corpus_shows_no_mismatch_a_a_and_a_b(tmp_path, sqlite_url, same_path):
    app = create_app(settings=make_settings(tmp_path, sqlite_url, trust_user_header=True, shadow_same_path=same_path,
                                            shadow_queue=256))
    flags = services_of(app).flags
    for flag in ("shadow_upload", "shadow_staged_upload"):
        flags.set_percent(flag, 100, actor="test")
    flags.set_percent("refactored_staged_upload", 100, actor="test")  # staged controls refactored, direct original
    client = app.test_client()
    corpus = _corpus()
    for n, data in enumerate(corpus):
        post_file(client, "/upload", data, headers={"X-Portal-User": f"u{n}"})
        post_file(client, "/upload_staged", data, headers={"X-Portal-User": f"u{n}"})
    runner = services_of(app).shadowing.runner
    assert runner.drain(300)
    total = lambda result: sum(_runs(app, route=r, primary=p, result=result)  # noqa: E731
                               for r in ("direct", "staged") for p in ("original", "refactored"))
    assert total("mismatch") == 0, services_of(app).shadowing.store.recent(5)
    assert total("error") == total("timeout") == total("skipped") == 0
    if same_path:
        assert total("match") == 2 * len(corpus) and total("ignored") == 0
    else:
        assert total("match") + total("ignored") == 2 * len(corpus) and total("ignored") > 0
    services_of(app).shadowing.close()
    services_of(app).db.dispose()


def test_a_mismatch_is_stored_and_readable_through_the_admin_api(shadowed):
    app = shadowed
    shadowing = services_of(app).shadowing
    original_candidate = shadowing._candidate

    def altered(path, route, upload, base):  # a refactored path with a bug in one field
        outcome = original_candidate(path, route, upload, base)
        from dataclasses import replace

        return replace(outcome, sector="Landfil") if outcome.success else outcome

    shadowing.runner._candidate = altered
    client = app.test_client()
    post_file(client, "/upload", generate_workbook("landfill_v01_01", seed=6).data, headers={"X-Portal-User": "dana"})
    assert shadowing.runner.drain(30)
    assert _runs(app, route="direct", primary="original", result="mismatch") == 1
    assert services_of(app).metrics.registry.get_sample_value(
        "portal_shadow_field_mismatches_total", {"route": "direct", "field": "sector"}) == 1
    assert client.get("/admin/api/shadow/summary").status_code == 401
    auth = {"Authorization": f"Bearer {TOKEN}"}
    summary = client.get("/admin/api/shadow/summary", headers=auth).get_json()
    assert summary["mismatches"] == 1 and {"field": "sector", "count": 1} in summary["by_field"]
    [record] = client.get("/admin/api/shadow/mismatches?route=direct", headers=auth).get_json()["mismatches"]
    assert record["user"] == "dana" and record["control_path"] == "original"
    full = client.get(f"/admin/api/shadow/mismatches/{record['id']}", headers=auth).get_json()
    assert {"field": "sector", "control": "Landfill", "candidate": "Landfil"} in full["differences"]
    assert client.get("/admin/api/shadow/mismatches/424242", headers=auth).status_code == 404
    assert client.get("/admin/api/shadow/mismatches?limit=x", headers=auth).status_code == 400


def test_candidates_run_in_a_low_priority_process_by_default(tmp_path, sqlite_url):
    import os as _os

    app = create_app(settings=make_settings(tmp_path, sqlite_url, trust_user_header=True, shadow_processes=1))
    shadowing = services_of(app).shadowing
    try:
        pool = shadowing._pool
        assert pool is not None
        assert pool._pool.submit(_os.nice, 0).result(timeout=60) == 19  # nice 19: the user's request goes first
        assert pool._pool.submit(_os.getpid).result(timeout=10) != _os.getpid()
        services_of(app).flags.set_percent("shadow_upload", 100, actor="test")
        services_of(app).flags.set_percent("refactored_upload", 100, actor="test")
        response = post_file(app.test_client(), "/upload", generate_workbook("generic_v01_00", seed=2).data)
        assert response.status_code == 200
        assert shadowing.runner.drain(60)
        assert _runs(app, route="direct", primary="refactored", result="match") == 1
    finally:
        shadowing.close()
        services_of(app).db.dispose()
