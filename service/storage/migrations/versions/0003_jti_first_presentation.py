"""Token ids keep their first presentation: a proxy's resend of the same request is no replay.

Nullable columns: ids claimed before this revision have no presentation, and are never accepted
again (the reading of a replay guard that knows less); `resent_at` is set when the one resend
allowed is accepted.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jti", sa.Column("request_sha256", sa.String(64), nullable=True))
    op.add_column("jti", sa.Column("presented_at", sa.BigInteger, nullable=True))
    op.add_column("jti", sa.Column("resent_at", sa.BigInteger, nullable=True))


def downgrade() -> None:
    op.drop_column("jti", "resent_at")
    op.drop_column("jti", "presented_at")
    op.drop_column("jti", "request_sha256")
