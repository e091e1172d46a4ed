"""Audit records written off the request path: none lost, also under back-pressure."""

from __future__ import annotations

import threading

import pytest

from service.audit_record import AuditCard, AuditRecord
from service.storage import Store
from service.storage import audit_writer as audit_writer_module
from service.storage.audit_writer import AuditWriter


def record(n: int) -> AuditRecord:
    return AuditRecord(
        service="cementoplasty-order-select",
        hook_instance=f"hook-{n}",
        rules_fired=("BLEED-PLATELETS-LOW",),
        cards=(AuditCard(f"card-{n}", "critical", ("BLEED-PLATELETS-LOW",)),),
    )


def feedback(n: int) -> dict:
    return {"card": f"card-{n}", "outcome": "accepted", "outcomeTimestamp": "2026-11-26T09:00:00Z"}


@pytest.mark.parametrize("max_queued", [2000, 3])  # 3: most submits fall back to a direct write
def test_every_record_is_stored_while_feedback_is_written_concurrently(
    monkeypatch: pytest.MonkeyPatch, max_queued: int
) -> None:
    monkeypatch.setattr(audit_writer_module, "MAX_QUEUED", max_queued)
    store = Store("sqlite://")  # one shared in-memory connection: the hardest case
    writer = AuditWriter(store)

    def work(offset: int) -> None:
        for n in range(offset, offset + 100):
            writer.submit(record(n))
            if n % 10 == 0:
                store.record_feedback("cementoplasty-order-select", [feedback(n)])

    threads = [threading.Thread(target=work, args=(i * 1000,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.flush()
    writer.close()

    assert len(store.audit_records()) == 600
    assert len(store.feedback_items()) == 60


def test_warm_up_stores_nothing() -> None:
    store = Store("sqlite://")
    store.warm_up()
    assert store.audit_records() == [] and store.feedback_items() == []


def test_a_burst_is_written_in_one_batch_and_close_writes_what_is_queued(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One commit (one disk sync) for records that arrive within the batch window."""
    monkeypatch.setattr(audit_writer_module, "BATCH_WINDOW_S", 0.5)
    store = Store("sqlite://")
    batches: list[int] = []
    real_record_audits = store.record_audits

    def counting(records):
        batches.append(len(records))
        return real_record_audits(records)

    monkeypatch.setattr(store, "record_audits", counting)
    writer = AuditWriter(store)
    for n in range(50):
        writer.submit(record(n))
    writer.flush()
    for n in range(50, 60):
        writer.submit(record(n))
    writer.close()
    assert batches[0] == 50
    assert sum(batches) == 60 and len(store.audit_records()) == 60


class BuggyStore(Store):
    """A store that raises something other than a database error on one record (a bug)."""

    def record_audits(self, records):
        if any(record.hook_instance == "refused" for record in records):
            raise ValueError("a bug in the store")
        return super().record_audits(records)


def test_the_writer_survives_a_batch_the_store_refuses() -> None:
    store = BuggyStore("sqlite://")
    writer = AuditWriter(store)
    writer.submit(AuditRecord(service="svc", hook_instance="refused"))
    writer.flush()
    writer.submit(record(1))
    writer.flush()
    writer.close()
    assert [r.hook_instance for r in store.audit_records()] == ["hook-1"]
