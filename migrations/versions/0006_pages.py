"""Pages: parse warnings kept with each upload, a facility column and the list indexes.

- `uploaded_files.warnings`: the upload's parse warnings (app/ingest/field_warnings.py),
  shown later on the incidence and review pages.
- `incidences.facility_name`: misc_json's facility_name, copied on every write, so
  /incidences can search and show it without reading each JSON document; back-filled here.
- indexes for /incidences (newest first, by sector) and /uploads (by status, route, path).
  The `interrupted` status (issue 17) is a value of `uploaded_files.status`; no change.

Revision ID: 0006
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0003"
branch_labels = None
depends_on = None

JSONDocument = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
FACILITY_LENGTH = 255
TRIGRAM_INDEX = "ix_incidences_facility_trgm"  # PostgreSQL
SEARCH_TABLE = "incidence_facility_search"  # SQLite; app/ingest/listing.py names it too
SQLITE_SEARCH = (
    f"CREATE VIRTUAL TABLE {SEARCH_TABLE} USING fts5(facility_name, tokenize='trigram')",
    f"INSERT INTO {SEARCH_TABLE}(rowid, facility_name) SELECT id_incidence, facility_name FROM incidences "
    "WHERE facility_name IS NOT NULL",
    f"CREATE TRIGGER incidences_facility_insert AFTER INSERT ON incidences WHEN new.facility_name IS NOT NULL BEGIN "
    f"INSERT INTO {SEARCH_TABLE}(rowid, facility_name) VALUES (new.id_incidence, new.facility_name); END",
    f"CREATE TRIGGER incidences_facility_update AFTER UPDATE OF facility_name ON incidences "
    f"WHEN old.facility_name IS NOT new.facility_name BEGIN "
    f"DELETE FROM {SEARCH_TABLE} WHERE rowid = old.id_incidence; "
    f"INSERT INTO {SEARCH_TABLE}(rowid, facility_name) SELECT new.id_incidence, new.facility_name "
    "WHERE new.facility_name IS NOT NULL; END",
    f"CREATE TRIGGER incidences_facility_delete AFTER DELETE ON incidences BEGIN "
    f"DELETE FROM {SEARCH_TABLE} WHERE rowid = old.id_incidence; END",
)


def upgrade() -> None:
    with op.batch_alter_table("uploaded_files") as batch:
        batch.add_column(sa.Column("warnings", JSONDocument, nullable=True))
    with op.batch_alter_table("incidences") as batch:
        batch.add_column(sa.Column("facility_name", sa.String(length=FACILITY_LENGTH), nullable=True))
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(f"UPDATE incidences SET facility_name = left(misc_json->>'facility_name', {FACILITY_LENGTH})")
    else:
        op.execute(f"UPDATE incidences SET facility_name = substr(json_extract(misc_json, '$.facility_name'), 1, {FACILITY_LENGTH}) "
                   "WHERE json_type(misc_json, '$.facility_name') = 'text'")
    op.create_index("ix_incidences_updated", "incidences", ["updated_at", "id_incidence"])
    op.create_index("ix_incidences_sector_updated", "incidences", ["sector", "updated_at", "id_incidence"])
    _facility_index(bind)
    op.create_index("ix_uploaded_files_status_id", "uploaded_files", ["status", "id"])
    op.create_index("ix_uploaded_files_route_path_id", "uploaded_files", ["route", "ingest_path", "id"])
    op.create_index("ix_uploaded_files_path_id", "uploaded_files", ["ingest_path", "id"])


def _facility_index(bind) -> None:
    """Facility search is a substring match: a trigram index on PostgreSQL when the pg_trgm
    extension can be had (without it the search reads the rows newest first); on SQLite an
    FTS5 trigram table kept by triggers (app/ingest/listing.py reads it)."""
    if bind.dialect.name == "sqlite":
        for statement in SQLITE_SEARCH:
            bind.exec_driver_sql(statement)
        return
    if bind.dialect.name != "postgresql":
        return
    try:
        with bind.begin_nested():
            # In public, not the portal's schema: the extension is one per database, and an
            # application schema dropped with CASCADE would take it from every other schema.
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
    except Exception as exc:  # noqa: BLE001 - no extension (or no right to create it): search still works, slower
        print(f"0006: pg_trgm unavailable ({str(exc).splitlines()[0]}); facility search reads the table")
        return
    home = bind.exec_driver_sql("SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
                                "WHERE e.extname = 'pg_trgm'").scalar_one()
    bind.exec_driver_sql(f'CREATE INDEX {TRIGRAM_INDEX} ON incidences USING gin (facility_name "{home}".gin_trgm_ops)')


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS incidences_facility_{trigger}")
        op.execute(f"DROP TABLE IF EXISTS {SEARCH_TABLE}")
    op.execute(f"DROP INDEX IF EXISTS {TRIGRAM_INDEX}")
    for name, table in (("ix_uploaded_files_path_id", "uploaded_files"), ("ix_uploaded_files_route_path_id", "uploaded_files"),
                        ("ix_uploaded_files_status_id", "uploaded_files"), ("ix_incidences_sector_updated", "incidences"),
                        ("ix_incidences_updated", "incidences")):
        op.drop_index(name, table_name=table)
    with op.batch_alter_table("incidences") as batch:
        batch.drop_column("facility_name")
    with op.batch_alter_table("uploaded_files") as batch:
        batch.drop_column("warnings")
