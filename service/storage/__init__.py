"""Persistence: feedback, audit records and client token ids (SQLite or PostgreSQL)."""

from service.storage.store import (
    OverrideReasonCount,
    ReportRows,
    RuleReportRow,
    Store,
    create_schema,
    engine_url,
)

__all__ = [
    "OverrideReasonCount",
    "ReportRows",
    "RuleReportRow",
    "Store",
    "create_schema",
    "engine_url",
]
