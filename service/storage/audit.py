"""Audit records (service.audit_record.AuditRecord) in the database: one row per evaluation,
plus one per rule fired and one per (card, rule) for the report's joins."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC
from typing import Any

from sqlalchemy import Connection, select

from service.audit_record import AuditCard, AuditRecord
from service.storage.engine import insert
from service.storage.feedback import as_utc, canonical_json
from service.storage.schema import audit, audit_card, audit_rule


def insert_audits(
    connection: Connection, dialect: str, records: Sequence[AuditRecord]
) -> list[int]:
    """Three statements per batch, whatever its size (insertmanyvalues with RETURNING). A record
    whose key is already stored is not stored again (its id is returned)."""
    if not records:
        return []
    rows = [audit_row(record) for record in records]
    # Insert-if-absent on the record key: replaying a record already stored adds nothing.
    statement = (
        insert(dialect, audit)
        .on_conflict_do_nothing(index_elements=[audit.c.record_key])
        .returning(audit.c.id, audit.c.record_key)
    )
    inserted = connection.execute(statement, rows)
    new_ids = {key: int(audit_id) for audit_id, key in inserted}
    ids_by_key = dict(new_ids)
    known = [r.record_key for r in records if r.record_key not in new_ids]
    if known:
        query = select(audit.c.record_key, audit.c.id).where(audit.c.record_key.in_(known))
        ids_by_key.update({key: int(audit_id) for key, audit_id in connection.execute(query)})
    fresh = []  # (id, record) of each record inserted now, once per key
    for record in records:
        audit_id = new_ids.pop(record.record_key, None)
        if audit_id is not None:
            fresh.append((audit_id, record))
    rule_rows = [
        {"audit_id": audit_id, "rule_id": rule_id}
        for audit_id, record in fresh
        for rule_id in sorted(set(record.rules_fired))
    ]
    card_rows = [
        {"audit_id": audit_id, "card_uuid": card.uuid, "indicator": card.indicator, "rule_id": rule}
        for audit_id, record in fresh
        for card in record.cards
        for rule in card.rule_ids or (None,)
    ]
    if rule_rows:
        connection.execute(audit_rule.insert(), rule_rows)
    if card_rows:
        connection.execute(audit_card.insert(), card_rows)
    return [ids_by_key[record.record_key] for record in records]


def audit_row(record: AuditRecord) -> dict[str, Any]:
    return {
        "record_key": record.record_key,
        "service_id": record.service,
        "hook_instance": record.hook_instance,
        "recorded_at": record.recorded_at.astimezone(UTC),
        "ruleset_version": record.ruleset_version,
        "patient_id": record.patient_id,
        "status": record.status,
        "latency_ms": record.latency_ms,
        "rule_ids": canonical_json(list(record.rules_fired)),
        "cards": canonical_json(
            [
                {"uuid": c.uuid, "indicator": c.indicator, "rule_ids": list(c.rule_ids)}
                for c in record.cards
            ]
        ),
        "resources_used": canonical_json(
            {rule: list(refs) for rule, refs in record.resources_used.items()}
        ),
        "data_unavailable": canonical_json(list(record.data_unavailable)),
    }


def read_audits(connection: Connection, hook_instance: str | None = None) -> list[AuditRecord]:
    query = select(audit).order_by(audit.c.id)
    if hook_instance is not None:
        query = query.where(audit.c.hook_instance == hook_instance)
    return [_record(row) for row in connection.execute(query).mappings().all()]


def _record(row: Any) -> AuditRecord:
    return AuditRecord(
        service=row["service_id"],
        hook_instance=row["hook_instance"],
        patient_id=row["patient_id"],
        ruleset_version=row["ruleset_version"],
        rules_fired=tuple(json.loads(row["rule_ids"])),
        cards=tuple(
            AuditCard(c["uuid"], c["indicator"], tuple(c["rule_ids"]))
            for c in json.loads(row["cards"])
        ),
        resources_used={
            rule: tuple(refs) for rule, refs in json.loads(row["resources_used"]).items()
        },
        data_unavailable=tuple(json.loads(row["data_unavailable"])),
        status=row["status"],
        latency_ms=row["latency_ms"],
        recorded_at=as_utc(row["recorded_at"]),
        record_key=row["record_key"],
    )
