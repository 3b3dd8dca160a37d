"""Parity: one corpus through both paths; outcomes equal except the intended differences
listed in app/ingest/parity.py."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app import create_app
from app.compose import services_of
from app.forms import all_schemas
from app.ingest import original, refactored
from app.ingest.models import Incidence, PortalUpdate
from app.ingest.outcome import DIRECT, STAGED, Outcome, Upload
from app.ingest.parity import INTENDED_DIFFERENCES, unexplained_differences
from app.workbook import hostile
from app.workbook.generator import VARIANTS, generate_workbook
from tests.conftest import SHARED_FORMS, make_settings


def _corpus() -> list[tuple[str, bytes]]:
    items = []
    for path in sorted((SHARED_FORMS / "samples").glob("*.xlsx")):  # empty without ../shared
        items.append((f"sample:{path.stem}", path.read_bytes()))
    for schema in all_schemas():
        for variant in VARIANTS:
            items.append((f"generated:{schema.name}:{variant}", generate_workbook(schema.name, variant, seed=21).data))
    for name in ("pdf", "csv", "random_binary", "legacy_xls", "truncated", "corrupt_zip", "zip_bomb", "lying_zip_bomb",
                 "entity_bomb", "million_rows", "far_away_cell", "dimension_only_million_rows", "without_schema_sheet", "unknown_schema",
                 "huge_text"):
        items.append((f"hostile:{name}", getattr(hostile, name)()))
    for value in (0, -3, "abc", 7.5, "  42  "):
        items.append((f"id:{value!r}", hostile.with_id(value)))
    items.append(("empty", b""))
    return items


CORPUS = _corpus()


@pytest.fixture(scope="module")
def ingest(tmp_path_factory):
    """An ingestion context; `evaluate` reads bases from the lookup given, never the database."""
    from app.ingest.context import IngestContext
    from app.ingest.database import Database
    from app.ingest.files import FileStore

    folder = tmp_path_factory.mktemp("parity")
    db = Database(f"sqlite:///{folder}/unused.db")
    yield IngestContext(db, FileStore(folder / "uploads"))
    db.dispose()
BASES = {
    "new-incidence": lambda id_: None,
    "existing-incidence": lambda id_: {"id_incidence": id_, "facility_name": "Stored earlier", "staff_note": "kept"},
}


def test_every_intended_difference_gives_its_reason():
    assert INTENDED_DIFFERENCES
    assert all(len(d.reason) > 40 for d in INTENDED_DIFFERENCES)


@pytest.mark.parametrize("base", sorted(BASES))
@pytest.mark.parametrize("route", [DIRECT, STAGED])
@pytest.mark.parametrize("name, data", CORPUS, ids=[c[0] for c in CORPUS])
def test_both_paths_decide_the_same_on_the_corpus(ingest, name, data, route, base):
    upload = Upload(data, f"{name}.xlsx", "parity-user")
    a = original.evaluate(ingest.limits, upload, route, BASES[base])
    b = refactored.evaluate(ingest.limits, upload, route, BASES[base])
    assert (a.path, b.path) == ("original", "refactored")
    assert unexplained_differences(a, b) == []
    assert a.success == b.success


def _store(app):
    portal = services_of(app)
    with portal.db.session() as s:
        incidences = {i.id_incidence: i.misc_json for i in s.execute(select(Incidence)).scalars()}
        updates = sorted(repr((u.id_incidence, u.key, u.old_value, u.new_value)) for u in s.execute(select(PortalUpdate)).scalars())
    return incidences, updates


def test_both_paths_leave_the_same_data_behind(tmp_path, sqlite_template):
    """The same sequence of uploads (new, update, bad) through each path, each on its own
    database, ends with equal incidences and equal audit rows."""
    from tests.conftest import _sqlite_url

    sequence = [generate_workbook("oil_and_gas_v01_00", seed=31, id_incidence=9001).data,
                generate_workbook("oil_and_gas_v01_00", "bad", seed=32, id_incidence=9001).data,
                hostile.pdf(),
                generate_workbook("dairy_digester_v01_00", seed=33, id_incidence=9002).data,
                generate_workbook("dairy_digester_v01_00", seed=34, id_incidence=9002,
                                  values={"additional_notes": "second upload"}).data]
    stores, outcomes = [], {}
    for impl in (original, refactored):
        folder = tmp_path / impl.__name__.rsplit(".", 1)[-1]
        folder.mkdir()
        app = create_app(settings=make_settings(folder, _sqlite_url(folder, sqlite_template)))
        ctx = services_of(app).ingest
        outcomes[impl] = [impl.process(ctx, Upload(data, "f.xlsx", "same-user"), DIRECT) for data in sequence]
        stores.append(_store(app))
        services_of(app).db.dispose()
    assert stores[0] == stores[1]
    for a, b in zip(outcomes[original], outcomes[refactored]):
        assert unexplained_differences(a, b) == []


def test_a_real_difference_is_reported_field_by_field():
    a = Outcome("original", DIRECT, True, id_incidence=1, payload={"x": 1})
    b = Outcome("refactored", DIRECT, True, id_incidence=1, payload={"x": 2})
    [difference] = unexplained_differences(a, b)
    assert (difference.field, difference.original, difference.refactored) == ("payload", {"x": 1}, {"x": 2})
