"""What `cementoplasty-cds report` reads: per rule, how often it fired and what the clinicians
did with its cards (service/report.py renders it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import Connection, func, select

from service.storage.schema import audit, audit_card, audit_rule, feedback


@dataclass(frozen=True)
class OverrideReasonCount:
    code: str | None
    system: str | None
    display: str | None
    count: int


@dataclass(frozen=True)
class RuleReportRow:
    rule_id: str
    fired: int = 0
    accepted: int = 0
    overridden: int = 0
    override_reasons: tuple[OverrideReasonCount, ...] = ()


@dataclass(frozen=True)
class ReportRows:
    rules: tuple[RuleReportRow, ...]
    evaluations: int
    feedback_items: int
    feedback_unmatched: int  # feedback on card uuids no audit record knows
    by_rule: Mapping[str, RuleReportRow] = field(default_factory=dict)


def report_rows(connection: Connection) -> ReportRows:
    """Per rule: times fired, feedback accepted/overridden on its cards, override reasons."""
    fired_q = select(audit_rule.c.rule_id, func.count()).group_by(audit_rule.c.rule_id)
    outcome_q = (
        select(audit_card.c.rule_id, feedback.c.outcome, func.count(feedback.c.id.distinct()))
        .join(feedback, feedback.c.card_uuid == audit_card.c.card_uuid)
        .where(audit_card.c.rule_id.is_not(None))
        .group_by(audit_card.c.rule_id, feedback.c.outcome)
    )
    reason_q = (
        select(
            audit_card.c.rule_id,
            feedback.c.override_code,
            feedback.c.override_system,
            feedback.c.override_display,
            func.count(feedback.c.id.distinct()),
        )
        .join(feedback, feedback.c.card_uuid == audit_card.c.card_uuid)
        .where(audit_card.c.rule_id.is_not(None), feedback.c.outcome == "overridden")
        .group_by(
            audit_card.c.rule_id,
            feedback.c.override_code,
            feedback.c.override_system,
            feedback.c.override_display,
        )
    )
    unmatched_q = select(func.count()).where(
        ~feedback.c.card_uuid.in_(select(audit_card.c.card_uuid))
    )
    fired = dict(connection.execute(fired_q).all())
    outcomes = connection.execute(outcome_q).all()
    reasons = connection.execute(reason_q).all()
    evaluations = connection.execute(select(func.count()).select_from(audit)).scalar()
    items = connection.execute(select(func.count()).select_from(feedback)).scalar()
    unmatched = connection.execute(unmatched_q.select_from(feedback)).scalar()

    counts: dict[str, dict[str, int]] = {}
    for rule_id, outcome, count in outcomes:
        counts.setdefault(rule_id, {})[outcome] = count
    reasons_by_rule: dict[str, list[OverrideReasonCount]] = {}
    for rule_id, code, system, display, count in reasons:
        reasons_by_rule.setdefault(rule_id, []).append(
            OverrideReasonCount(code, system, display, count)
        )
    rows = []
    for rule_id in sorted(set(fired) | set(counts)):
        rows.append(
            RuleReportRow(
                rule_id=rule_id,
                fired=fired.get(rule_id, 0),
                accepted=counts.get(rule_id, {}).get("accepted", 0),
                overridden=counts.get(rule_id, {}).get("overridden", 0),
                override_reasons=tuple(
                    sorted(
                        reasons_by_rule.get(rule_id, []),
                        key=lambda r: (-r.count, r.code or ""),
                    )
                ),
            )
        )
    return ReportRows(
        rules=tuple(rows),
        evaluations=evaluations or 0,
        feedback_items=items or 0,
        feedback_unmatched=unmatched or 0,
        by_rule={row.rule_id: row for row in rows},
    )
