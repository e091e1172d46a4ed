"""The one schema, for SQLite and PostgreSQL alike (SQLAlchemy Core)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

# One row per feedback item. "The same item twice" is the same service + the same canonical
# item JSON: `item_hash` is its SHA-256, and the unique constraint makes a resent batch a no-op.
feedback = Table(
    "feedback",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("item_hash", String(64), nullable=False),
    Column("service_id", String(200), nullable=False),
    Column("card_uuid", String(200), nullable=False),
    Column("outcome", String(40), nullable=False),
    Column("outcome_timestamp", String(64), nullable=True),  # as the client sent it
    Column("accepted_suggestions", Text, nullable=True),  # JSON array of suggestion uuids
    Column("override_code", Text, nullable=True),
    Column("override_system", Text, nullable=True),
    Column("override_display", Text, nullable=True),
    Column("user_comment", Text, nullable=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("item_hash", name="uq_feedback_item_hash"),
)
Index("ix_feedback_card_uuid", feedback.c.card_uuid)

# One row per evaluation: what was decided and from which data. Never tokens, never names.
audit = Table(
    "audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("service_id", String(200), nullable=False),
    Column("hook_instance", String(200), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("ruleset_version", String(100), nullable=True),
    Column("patient_id", String(200), nullable=True),
    Column("status", Integer, nullable=False),
    Column("latency_ms", Float, nullable=True),
    Column("rule_ids", Text, nullable=False),  # JSON array
    Column("cards", Text, nullable=False),  # JSON array of {uuid, indicator, rule_ids}
    Column("resources_used", Text, nullable=False),  # JSON {rule_id: ["Type/id/_history/v"]}
    Column("data_unavailable", Text, nullable=False),  # JSON array
    # The evaluation's own id (a uuid given before the record is queued): a record written
    # again (replayed from the spool) is stored once. NULL on records from before the key.
    Column("record_key", String(64), nullable=True),
)
Index("ix_audit_hook_instance", audit.c.hook_instance)
Index("uq_audit_record_key", audit.c.record_key, unique=True)
Index("ix_audit_recorded_at", audit.c.recorded_at)

# The same facts, one row per rule fired / per card and rule, so that reports are SQL joins.
audit_rule = Table(
    "audit_rule",
    metadata,
    Column("audit_id", Integer, ForeignKey("audit.id", ondelete="CASCADE"), nullable=False),
    Column("rule_id", String(100), nullable=False),
)
Index("ix_audit_rule_rule_id", audit_rule.c.rule_id)

audit_card = Table(
    "audit_card",
    metadata,
    Column("audit_id", Integer, ForeignKey("audit.id", ondelete="CASCADE"), nullable=False),
    Column("card_uuid", String(200), nullable=False),
    Column("indicator", String(20), nullable=False),
    Column("rule_id", String(100), nullable=True),
)
Index("ix_audit_card_card_uuid", audit_card.c.card_uuid)

# Client token ids seen, until the token expires (replay protection across all workers).
jti = Table(
    "jti",
    metadata,
    Column("iss", String(500), nullable=False),
    Column("jti", String(255), nullable=False),
    Column("expires_at", BigInteger, nullable=False),  # Unix seconds
    # Its first presentation (cds_hooks.auth.Presentation): the request's SHA-256 and when.
    Column("request_sha256", String(64), nullable=True),
    Column("presented_at", BigInteger, nullable=True),  # Unix seconds
    Column("resent_at", BigInteger, nullable=True),  # when its one resend was accepted
    UniqueConstraint("iss", "jti", name="uq_jti_iss_jti"),
)
Index("ix_jti_expires_at", jti.c.expires_at)
