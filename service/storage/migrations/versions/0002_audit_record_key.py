"""Audit records get an idempotent key: a record replayed from the spool is stored once.

A nullable column and a unique index (NULLs never collide): records stored before this
revision keep no key. No table is rebuilt (on SQLite a rebuild of `audit` would cascade-delete
its rule and card rows).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("audit", sa.Column("record_key", sa.String(64), nullable=True))
    op.create_index("uq_audit_record_key", "audit", ["record_key"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_audit_record_key", table_name="audit")
    op.drop_column("audit", "record_key")
