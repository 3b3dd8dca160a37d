"""No lost update: simultaneous uploads for one incidence end as some serial order would."""

from __future__ import annotations

import threading
from itertools import groupby

import pytest
from sqlalchemy import select

from app.ingest import original, refactored
from app.ingest.errors import StagedConflict
from app.ingest.merge import audit_text
from app.ingest.models import Incidence, PortalUpdate, utcnow
from app.ingest.outcome import DIRECT, Upload
from app.ingest.persistence import apply_merge
from app.workbook.generator import generate_workbook

WRITERS = 6


def _run_together(calls):
    barrier = threading.Barrier(len(calls))
    results, errors = [None] * len(calls), []

    def worker(i, call):
        barrier.wait()
        try:
            results[i] = call()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    return results


def _assert_serial(db, id_incidence, base, outcomes):
    """Replaying the audit rows upload by upload from `base` gives the stored state, each
    upload's old values being what the one before it left: a serial order."""
    with db.session() as s:
        final = s.get(Incidence, id_incidence).misc_json
        rows = s.execute(select(PortalUpdate).where(PortalUpdate.id_incidence == id_incidence,
                                                    PortalUpdate.comments != "seed")
                         .order_by(PortalUpdate.id)).scalars().all()
    state = {k: audit_text(v) for k, v in (base or {}).items()}
    order = []
    for comment, group in groupby(rows, key=lambda r: r.comments):
        order.append(comment)
        for row in group:
            assert state.get(row.key) == row.old_value, (comment, row.key)
            state[row.key] = row.new_value
    assert len(order) == len(set(order)), "an upload's rows are interleaved with another's"
    assert {k: v for k, v in state.items()} == {k: audit_text(v) for k, v in final.items() if k in state}
    payloads = {o.payload["facility_name"]: o.payload for o in outcomes}
    assert final["facility_name"] in payloads
    assert {k: final[k] for k in payloads[final["facility_name"]]} == payloads[final["facility_name"]]


@pytest.mark.parametrize("existing", [True, False], ids=["existing-incidence", "new-incidence"])
def test_simultaneous_direct_uploads_for_one_incidence_lose_no_update(portal, db, existing):
    id_incidence = 5001
    base = {"id_incidence": id_incidence, "staff_note": "kept"} if existing else None
    if existing:
        apply_merge(db, id_incidence, base, sector="Energy", user="staff", comments="seed", now=utcnow())
    workbooks = [generate_workbook("energy_v01_00", seed=100 + i, id_incidence=id_incidence,
                                   values={"facility_name": f"Writer {i}"}) for i in range(WRITERS)]
    paths = [refactored, original]
    calls = [
        (lambda i=i, wb=wb: paths[i % 2].process(portal.ingest, Upload(wb.data, f"w{i}.xlsx", f"user{i}", f"upload {i}"), DIRECT))
        for i, wb in enumerate(workbooks)
    ]
    outcomes = _run_together(calls)
    assert all(o.success for o in outcomes), [o.error_message for o in outcomes if not o.success]
    _assert_serial(db, id_incidence, base if existing else None, outcomes)
    if existing:
        with db.session() as s:
            assert s.get(Incidence, id_incidence).misc_json["staff_note"] == "kept"


def test_simultaneous_confirms_from_one_base_apply_once(client, db, portal):
    from app.ingest import review

    apply_merge(db, 5002, {"id_incidence": 5002}, sector="Energy", user="staff", comments=None, now=utcnow())
    names = []
    for i in range(4):
        outcome = refactored.process(portal.ingest, Upload(generate_workbook("energy_v01_00", seed=200 + i, id_incidence=5002).data,
                                                         "f.xlsx", "u"), "staged")
        names.append(outcome.staged_filename)

    def confirm(name):
        try:
            review.confirm(portal.ingest, 5002, name, ["facility_name"], "reviewer")
            return "applied"
        except StagedConflict:
            return "conflict"

    results = _run_together([lambda n=n: confirm(n) for n in names])
    assert sorted(results) == ["applied", "conflict", "conflict", "conflict"]
    with db.session() as s:
        assert len(s.execute(select(PortalUpdate).where(PortalUpdate.comments.like("confirmed%"))).scalars().all()) == 1


def test_concurrent_confirms_of_one_staged_upload_are_one_200_and_the_rest_409(client, portal):
    from tests.conftest import JSON, post_file

    post_file(client, "/upload_refactored", generate_workbook("energy_v01_00", seed=1, id_incidence=5003).data)
    names = [post_file(client, "/upload_staged_refactored",
                       generate_workbook("energy_v01_00", seed=300 + i, id_incidence=5003).data).get_json()["staged_filename"]
             for i in range(2)]
    app = client.application

    def confirm(name):
        return app.test_client().post(f"/confirm_staged/5003/{name}", json={"confirm": ["facility_name"]},
                                      headers=JSON).status_code

    statuses = _run_together([lambda n=n: confirm(n) for n in names * 3])
    late = [confirm(name) for name in names]
    print(f"6 concurrent confirms of one base: {sorted(statuses)}; late confirms: {late}")
    assert sorted(statuses) == [200, 409, 409, 409, 409, 409] and late == [409, 409]
