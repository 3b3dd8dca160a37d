"""Rollout plans, decisions and the controller lease (app/harness/rollout/records.py);
an index on uploaded_files (route, created_at) for the controller's window queries.

Revision ID: 0004
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from app.harness.rollout.records import LEASE_NAME, lease, metadata

    metadata.create_all(op.get_bind(), checkfirst=True)
    op.get_bind().execute(sa.insert(lease).values(name=LEASE_NAME, holder=None))
    op.create_index("ix_uploaded_files_route_created_at", "uploaded_files", ["route", "created_at"])


def downgrade() -> None:
    from app.harness.rollout.records import metadata

    op.drop_index("ix_uploaded_files_route_created_at", table_name="uploaded_files")
    metadata.drop_all(op.get_bind(), checkfirst=True)
