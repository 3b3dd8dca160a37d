"""Shadow mismatch tables (defined in shadow/records.py).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from shadow.records import metadata

    metadata.create_all(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    from shadow.records import metadata

    metadata.drop_all(op.get_bind(), checkfirst=True)
