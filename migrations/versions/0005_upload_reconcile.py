"""Reconciling uploads (issue 17): one record per kept file, and a quick look-up by status.

A unique index on `uploaded_files.path` (NULL for rejected uploads, which keep no file)
makes "one file, one record" a rule the database keeps, even when the reconciler and a
late request record the same journalled file; an index on `(status, updated_at)` serves
the reconciler's search for stale `received` rows and the `interrupted` count.

Revision ID: 0005
Revises: 0004 (main had 0006 first; the chain stays linear)
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("uq_uploaded_files_path", "uploaded_files", ["path"], unique=True)
    op.create_index("ix_uploaded_files_status_updated_at", "uploaded_files", ["status", "updated_at"])


def downgrade() -> None:
    op.drop_index("ix_uploaded_files_status_updated_at", table_name="uploaded_files")
    op.drop_index("uq_uploaded_files_path", table_name="uploaded_files")
