"""Baseline: the schema of the last release before migrations (it created its tables itself).

Each table and index is created only if it is missing, so that this revision also adopts a
database that release created (with its data), or finishes one whose creation was cut short.

Revision ID: 0001
Revises:
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    tables = set(inspector.get_table_names())

    def indexes(table: str) -> set[str]:
        return (
            {index["name"] for index in inspector.get_indexes(table)} if table in tables else set()
        )

    if "feedback" not in tables:
        op.create_table(
            "feedback",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("item_hash", sa.String(64), nullable=False),
            sa.Column("service_id", sa.String(200), nullable=False),
            sa.Column("card_uuid", sa.String(200), nullable=False),
            sa.Column("outcome", sa.String(40), nullable=False),
            sa.Column("outcome_timestamp", sa.String(64), nullable=True),
            sa.Column("accepted_suggestions", sa.Text, nullable=True),
            sa.Column("override_code", sa.Text, nullable=True),
            sa.Column("override_system", sa.Text, nullable=True),
            sa.Column("override_display", sa.Text, nullable=True),
            sa.Column("user_comment", sa.Text, nullable=True),
            sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
            sa.UniqueConstraint("item_hash", name="uq_feedback_item_hash"),
        )
    if "ix_feedback_card_uuid" not in indexes("feedback"):
        op.create_index("ix_feedback_card_uuid", "feedback", ["card_uuid"])

    if "audit" not in tables:
        op.create_table(
            "audit",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("service_id", sa.String(200), nullable=False),
            sa.Column("hook_instance", sa.String(200), nullable=False),
            sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("ruleset_version", sa.String(100), nullable=True),
            sa.Column("patient_id", sa.String(200), nullable=True),
            sa.Column("status", sa.Integer, nullable=False),
            sa.Column("latency_ms", sa.Float, nullable=True),
            sa.Column("rule_ids", sa.Text, nullable=False),
            sa.Column("cards", sa.Text, nullable=False),
            sa.Column("resources_used", sa.Text, nullable=False),
            sa.Column("data_unavailable", sa.Text, nullable=False),
        )
    audit_indexes = indexes("audit")
    if "ix_audit_hook_instance" not in audit_indexes:
        op.create_index("ix_audit_hook_instance", "audit", ["hook_instance"])
    if "ix_audit_recorded_at" not in audit_indexes:
        op.create_index("ix_audit_recorded_at", "audit", ["recorded_at"])

    if "audit_rule" not in tables:
        op.create_table(
            "audit_rule",
            sa.Column(
                "audit_id",
                sa.Integer,
                sa.ForeignKey("audit.id", ondelete="CASCADE"),
                nullable=False,
            ),
            sa.Column("rule_id", sa.String(100), nullable=False),
        )
    if "ix_audit_rule_rule_id" not in indexes("audit_rule"):
        op.create_index("ix_audit_rule_rule_id", "audit_rule", ["rule_id"])

    if "audit_card" not in tables:
        op.create_table(
            "audit_card",
            sa.Column(
                "audit_id",
                sa.Integer,
                sa.ForeignKey("audit.id", ondelete="CASCADE"),
                nullable=False,
            ),
            sa.Column("card_uuid", sa.String(200), nullable=False),
            sa.Column("indicator", sa.String(20), nullable=False),
            sa.Column("rule_id", sa.String(100), nullable=True),
        )
    if "ix_audit_card_card_uuid" not in indexes("audit_card"):
        op.create_index("ix_audit_card_card_uuid", "audit_card", ["card_uuid"])

    if "jti" not in tables:
        op.create_table(
            "jti",
            sa.Column("iss", sa.String(500), nullable=False),
            sa.Column("jti", sa.String(255), nullable=False),
            sa.Column("expires_at", sa.BigInteger, nullable=False),
            sa.UniqueConstraint("iss", "jti", name="uq_jti_iss_jti"),
        )
    if "ix_jti_expires_at" not in indexes("jti"):
        op.create_index("ix_jti_expires_at", "jti", ["expires_at"])


def downgrade() -> None:
    for table in ("jti", "audit_card", "audit_rule", "audit", "feedback"):
        op.drop_table(table)
