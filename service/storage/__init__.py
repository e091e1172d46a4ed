"""Persistence: feedback, audit records and client token ids (SQLite or PostgreSQL)."""

from service.storage.engine import create_schema, engine_url
from service.storage.report_queries import OverrideReasonCount, ReportRows, RuleReportRow
from service.storage.store import Store

__all__ = [
    "OverrideReasonCount",
    "ReportRows",
    "RuleReportRow",
    "Store",
    "create_schema",
    "engine_url",
]
