"""Feedback, audit and token ids, on both engines."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlalchemy import inspect
from support.feedback_items import card, items

from service.audit_record import AuditCard, AuditRecord
from service.storage import Store, engine_url

ACCEPTED = {
    "card": card("card-1"),
    "outcome": "accepted",
    "outcomeTimestamp": "2026-01-05T10:00:00Z",
    "acceptedSuggestions": [{"id": "suggestion-1"}],
}
OVERRIDDEN = {
    "card": card("card-2"),
    "outcome": "overridden",
    "outcomeTimestamp": "2026-01-05T10:01:00Z",
    "overrideReason": {
        "reason": {"code": "patient-informed", "system": "https://example.org/r", "display": "X"},
        "userComment": "discussed with the patient",
    },
}


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    store = Store(store_url)
    yield store
    store.close()


def test_engine_urls():
    assert engine_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert engine_url("postgresql+psycopg://u@h/db").drivername == "postgresql+psycopg"
    assert engine_url("sqlite:///data/x.sqlite3").database == "data/x.sqlite3"


def test_sqlite_is_durable_and_concurrent(tmp_path):
    (tmp_path / "data").mkdir()
    store = Store(f"sqlite:///{tmp_path}/data/s.sqlite3")
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
    assert (tmp_path / "data" / "s.sqlite3").is_file()


def test_schema_has_every_table(store: Store):
    tables = set(inspect(store.engine).get_table_names())
    assert {"feedback", "audit", "audit_rule", "audit_card", "jti"} <= tables
    assert store.ping()


def test_feedback_items_are_stored_with_every_field(store: Store):
    assert store.record_feedback("svc", items(ACCEPTED, OVERRIDDEN)) == 2
    first, second = store.feedback_items("svc")
    assert (first["card_uuid"], first["outcome"]) == (card("card-1"), "accepted")
    assert first["accepted_suggestions"] == ["suggestion-1"]
    assert first["outcome_timestamp"] == "2026-01-05T10:00:00Z"
    assert first["received_at"].tzinfo is not None
    assert (second["override_code"], second["override_system"]) == (
        "patient-informed",
        "https://example.org/r",
    )
    assert second["override_display"] == "X"
    assert second["user_comment"] == "discussed with the patient"


def test_the_same_item_twice_is_stored_once(store: Store):
    assert store.record_feedback("svc", items(ACCEPTED, dict(ACCEPTED))) == 1
    reordered = dict(reversed(list(ACCEPTED.items())))  # same JSON, other key order
    assert store.record_feedback("svc", items(reordered)) == 0
    assert len(store.feedback_items()) == 1
    # Another service, or another timestamp, is another item.
    assert store.record_feedback("other", items(ACCEPTED)) == 1
    later = ACCEPTED | {"outcomeTimestamp": "2026-01-06T00:00Z"}
    assert store.record_feedback("svc", items(later))
    assert len(store.feedback_items()) == 3


def test_unknown_card_uuids_are_kept(store: Store):
    store.record_feedback("svc", items(ACCEPTED | {"card": card("never-issued")}))
    assert [item["card_uuid"] for item in store.feedback_items()] == [card("never-issued")]
    assert store.report_rows().feedback_unmatched == 1


def test_audit_record_round_trip(store: Store):
    record = AuditRecord(
        service="svc",
        hook_instance="hook-1",
        recorded_at=datetime.fromisoformat("2026-01-05T10:00:00+01:00"),
        ruleset_version="2026.1",
        patient_id="pat-1",
        status=200,
        latency_ms=12.5,
        rules_fired=("R-B", "R-A"),
        cards=(AuditCard("card-1", "warning", ("R-A",)), AuditCard("card-2", "info", ("R-B",))),
        resources_used={"R-A": ("Observation/1/_history/2",)},
        data_unavailable=("medications",),
    )
    audit_id = store.record_audit(record)
    assert store.record_audit(record) == audit_id  # the same key: stored once
    [stored] = store.audit_records("hook-1")
    assert stored == record
    assert stored.recorded_at.isoformat() == "2026-01-05T09:00:00+00:00"


def test_a_spooled_line_keeps_only_the_record_s_fields() -> None:
    line = {
        **AuditRecord(service="svc", hook_instance="hook-1").to_json(),
        "access_token": "secret-token-value",
        "patient_name": "Jeanne Martin",
    }
    dumped = repr(AuditRecord.from_json(line).to_json())
    assert "secret-token-value" not in dumped and "Jeanne" not in dumped


def test_a_line_without_service_or_hook_instance_is_not_a_record():
    with pytest.raises(ValueError, match="hook_instance"):
        AuditRecord.from_json({"service": "svc", "record_key": "k", "recorded_at": "2026-01-05"})
    with pytest.raises(ValueError, match="service"):
        AuditRecord.from_json({"hook_instance": "h", "record_key": "k"})


def test_a_spool_line_of_the_previous_release_is_still_read():
    """Records spooled by the release before the audit record type (same fields, but
    `hookInstance` and no time) are replayed after an upgrade, not lost."""
    line = {
        "service": "cementoplasty-order-select",
        "hookInstance": "hook-1",
        "ruleset_version": "2",
        "patient_id": "pat-1",
        "status": 200,
        "latency_ms": 12.5,
        "rules_fired": ["BLEED-PLATELETS-LOW"],
        "cards": [{"uuid": "c1", "indicator": "critical", "rule_ids": ["BLEED-PLATELETS-LOW"]}],
        "resources_used": {"BLEED-PLATELETS-LOW": ["Observation/p1"]},
        "data_unavailable": [],
        "record_key": "0f7e",
    }
    record = AuditRecord.from_json(line)
    assert (record.hook_instance, record.record_key, record.status) == ("hook-1", "0f7e", 200)
    assert record.cards == (AuditCard("c1", "critical", ("BLEED-PLATELETS-LOW",)),)


def test_report_rows_join_feedback_to_the_rules_of_each_card(store: Store):
    for index in range(3):
        store.record_audit(
            AuditRecord(
                service="svc",
                hook_instance=f"h{index}",
                rules_fired=("R-A", "R-B"),
                cards=(
                    AuditCard(card(f"a{index}"), "warning", ("R-A",)),
                    AuditCard(card(f"b{index}"), "info", ("R-B",)),
                ),
            )
        )
    store.record_feedback(
        "svc",
        items(
            ACCEPTED | {"card": card("a0")},
            OVERRIDDEN | {"card": card("a1")},
            OVERRIDDEN | {"card": card("a2"), "outcomeTimestamp": "2026-01-07T00:00:00Z"},
            OVERRIDDEN | {"card": card("b0"), "overrideReason": {}},
        ),
    )
    report = store.report_rows()
    rule_a, rule_b = report.by_rule["R-A"], report.by_rule["R-B"]
    assert (rule_a.fired, rule_a.accepted, rule_a.overridden) == (3, 1, 2)
    assert [(r.code, r.count) for r in rule_a.override_reasons] == [("patient-informed", 2)]
    assert (rule_b.fired, rule_b.accepted, rule_b.overridden) == (3, 0, 1)
    assert [(r.code, r.count) for r in rule_b.override_reasons] == [(None, 1)]
    assert (report.evaluations, report.feedback_items, report.feedback_unmatched) == (3, 4, 0)


def test_jti_is_claimed_once_until_it_expires(store: Store):
    later = int(time.time()) + 600
    assert store.claim("https://ehr", "jti-1", later)
    assert not store.claim("https://ehr", "jti-1", later)
    assert store.claim("https://other-ehr", "jti-1", later)  # ids are per issuer


def test_expired_jti_rows_are_purged_and_free_again(store: Store):
    past = int(time.time()) - 10
    assert store.claim("https://ehr", "old", past)
    assert store.claim("https://ehr", "old", past + 1000)  # the old row no longer counts
    assert store.claim("https://ehr", "older", past)
    assert store.purge_expired_jti() == 1


def test_long_override_reason_texts_are_kept_whole(store: Store):
    long_text = "é" * 2000
    reason = {"code": long_text, "system": long_text, "display": long_text}
    item = OVERRIDDEN | {"overrideReason": {"reason": reason, "userComment": long_text}}
    assert store.record_feedback("svc", items(item)) == 1
    [stored] = store.feedback_items()
    assert stored["override_display"] == long_text and stored["user_comment"] == long_text


@pytest.mark.parametrize(
    "change",
    [
        {"status": float("inf")},  # json.loads reads Infinity: int() raised OverflowError
        {"status": "200"},
        {"status": True},
        {"latency_ms": "fast"},
        {"data_unavailable": "labs"},  # a string is not a list of keys (was split in letters)
        {"rules_fired": "BLEED-PLATELETS-LOW"},
        {"resources_used": {"A": "Observation/1"}},
        {"cards": [{"uuid": "c", "indicator": "info", "rule_ids": "A"}]},
        {"record_key": ""},
        {"recorded_at": 12},
    ],
)
def test_a_malformed_spool_line_is_not_a_record(change: dict) -> None:
    line = AuditRecord(service="svc", hook_instance="h").to_json() | change
    with pytest.raises(ValueError, match="not an audit record"):
        AuditRecord.from_json(line)


def test_one_malformed_line_never_blocks_the_replay_of_the_others(tmp_path) -> None:
    """A review found that a line with "status": Infinity raised OverflowError out of the replay:
    every record behind it, in every file, waited for ever."""
    import json as json_module

    from service.storage.spool import AuditSpool

    dead = AuditSpool(tmp_path / "spool", "the-store", max_bytes=1 << 20)
    dead.append([AuditRecord(service="s", hook_instance=h, record_key=h) for h in ("a", "b")])
    dead.close()  # a worker's file, left to the next one
    (path,) = (tmp_path / "spool").iterdir()
    first, second = path.read_text().splitlines()
    bad = json_module.dumps(json_module.loads(first) | {"hook_instance": "bad", "status": 1e400})
    path.write_text(f"{first}\n{bad}\n{second}\n")
    replayed: list[str] = []
    spool = AuditSpool(tmp_path / "spool", "the-store", max_bytes=1 << 20)
    spool.replay(lambda records: replayed.extend(r.hook_instance for r in records))
    assert replayed == ["a", "b"]
