"""A/B evidence on every upload record (duration, sector, routing reason), the window
index the report and the rollout gates query by, and the rehearsal faults table.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("uploaded_files") as batch:
        batch.add_column(sa.Column("duration_seconds", sa.Float(), nullable=True))
        batch.add_column(sa.Column("sector", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("decision_reason", sa.String(length=32), nullable=True))
    op.create_index("ix_uploaded_files_window", "uploaded_files", ["created_at", "route", "ingest_path"])
    op.create_table(
        "harness_faults",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_harness_faults")),
    )


def downgrade() -> None:
    op.drop_table("harness_faults")
    op.drop_index("ix_uploaded_files_window", table_name="uploaded_files")
    with op.batch_alter_table("uploaded_files") as batch:
        batch.drop_column("decision_reason")
        batch.drop_column("sector")
        batch.drop_column("duration_seconds")
