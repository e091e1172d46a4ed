"""Audit records: on disk before the answer, in the store soon after; none lost, none twice."""

from __future__ import annotations

import fcntl
import itertools
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from cds_hooks.feedback import FeedbackItem
from service.audit_record import AuditCard, AuditRecord
from service.storage import Store
from service.storage import audit_writer as audit_writer_module
from service.storage import spool as spool_module
from service.storage.audit_writer import AuditWriter
from service.storage.spool import AuditSpool

ROOT = Path(__file__).resolve().parents[2]


def record(n: int) -> AuditRecord:
    return AuditRecord(
        service="cementoplasty-order-select",
        hook_instance=f"hook-{n}",
        rules_fired=("BLEED-PLATELETS-LOW",),
        cards=(AuditCard(f"card-{n}", "critical", ("BLEED-PLATELETS-LOW",)),),
    )


def feedback(n: int) -> FeedbackItem:
    return FeedbackItem(f"card-{n}", "overridden", "2026-11-26T09:00:00Z")


def spool_in(folder: Path) -> AuditSpool:
    return AuditSpool(folder / "spool", "the-store", max_bytes=1 << 20)


def test_every_record_is_stored_while_feedback_is_written_concurrently(tmp_path: Path) -> None:
    store = Store("sqlite://")  # one shared in-memory connection: the hardest case
    writer = AuditWriter(store, spool_in(tmp_path))

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


def test_records_reach_the_store_by_themselves_in_few_commits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The background replay stores what has gathered in one commit, without a flush."""
    monkeypatch.setattr(audit_writer_module, "REPLAY_EVERY_S", 0.3)
    # A file, not sqlite:// : the in-memory store is one connection (StaticPool), and this test
    # reads it from its own thread while the writer's thread inserts; the two transactions then
    # can interleave on that connection, the likely reason the batch once failed in CI (51 commits:
    # refused, then retried record by record). Production stores are files or PostgreSQL.
    store = Store(f"sqlite:///{tmp_path}/store.sqlite3")
    batches: list[int] = []
    real_record_audits = store.record_audits

    def counting(records):
        batches.append(len(records))
        return real_record_audits(records)

    monkeypatch.setattr(store, "record_audits", counting)
    writer = AuditWriter(store, spool_in(tmp_path))
    for n in range(50):
        writer.submit(record(n))
    deadline = time.monotonic() + 10
    while len(store.audit_records()) < 50 and time.monotonic() < deadline:
        time.sleep(0.05)
    writer.close()
    assert len(store.audit_records()) == 50
    assert len(batches) <= 3  # was one commit per record


def test_a_record_is_on_disk_when_submit_returns(tmp_path: Path) -> None:
    """What answering after submit relies on: a SIGKILL right after the answer loses nothing."""
    code = textwrap.dedent(
        """
        import os, signal, sys
        from pathlib import Path
        from service.audit_record import AuditRecord
        from service.storage import Store
        from service.storage.audit_writer import AuditWriter
        from service.storage.spool import AuditSpool
        store = Store("sqlite:///" + sys.argv[1] + "/store.sqlite3")
        spool = AuditSpool(Path(sys.argv[1]) / "spool", "the-store", max_bytes=1 << 20)
        writer = AuditWriter(store, spool)
        for n in range(20):
            writer.submit(AuditRecord(service="s", hook_instance=f"h{n}", record_key=f"k{n}"))
        os.kill(os.getpid(), signal.SIGKILL)  # right after the last 'answer'
        """
    )
    killed = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, check=False)
    assert killed.returncode == -9
    store = Store(f"sqlite:///{tmp_path}/store.sqlite3")
    writer = AuditWriter(store, spool_in(tmp_path))  # the next worker
    writer.flush()
    writer.close()
    assert sorted(r.hook_instance for r in store.audit_records()) == sorted(
        f"h{n}" for n in range(20)
    )  # each once, whatever the dead worker had stored already


def test_a_spool_under_steady_traffic_never_fills(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under steady traffic a record arrives during every replay, so the file is never found
    idle to be truncated: it is carried to a new file instead of growing to its limit (where
    records are lost)."""
    monkeypatch.setattr(spool_module, "ROTATE_AFTER_BYTES", 4096)
    store = Store("sqlite://")
    folder = tmp_path / "spool"
    spool = AuditSpool(folder, "the-store", max_bytes=1 << 20)
    numbers = itertools.count()
    spool.append([record(next(numbers))])
    sizes: list[int] = []

    def store_while_requests_keep_coming(records: list[AuditRecord]) -> None:
        store.record_audits(records)
        sizes.extend(path.stat().st_size for path in folder.iterdir())
        if len(sizes) < 300:
            spool.append([record(next(numbers))])  # answered while the replay ran

    spool.replay(store_while_requests_keep_coming)
    submitted = next(numbers)
    assert submitted == 300
    assert {r.hook_instance for r in store.audit_records()} == {
        f"hook-{n}" for n in range(submitted)
    }
    assert max(sizes) < 3 * 4096  # without the carry: 300 records, ~127 KiB
    assert len(list(folder.iterdir())) == 1


def test_a_carry_that_cannot_create_its_new_file_keeps_the_old_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A disk error while carrying the file to a new one leaves the spool on its old file, whole
    and still written to: no record stuck in a file nobody replays."""
    monkeypatch.setattr(spool_module, "ROTATE_AFTER_BYTES", 4096)
    store = Store("sqlite://")
    folder = tmp_path / "spool"
    spool = AuditSpool(folder, "the-store", max_bytes=1 << 20)
    appended = [0]
    spool.append([record(0)])
    real_open = AuditSpool._open
    failures = []

    def open_fails_while_carrying(self: AuditSpool) -> Any:
        if self._file is None and self._path is not None and not failures:
            failures.append(self._path)  # a carry (a first open has no path yet)
            raise OSError(28, "No space left on device")
        return real_open(self)

    monkeypatch.setattr(AuditSpool, "_open", open_fails_while_carrying)

    def store_while_requests_keep_coming(records: list[AuditRecord]) -> None:
        store.record_audits(records)
        if len(appended) < 60:
            appended.append(len(appended))
            spool.append([record(appended[-1])])

    spool.replay(store_while_requests_keep_coming)
    spool.append([record(60)])
    spool.replay(store.record_audits)
    assert failures, "the carry was never attempted"
    stored = {r.hook_instance for r in store.audit_records()}
    assert stored == {f"hook-{n}" for n in [*appended, 60]}
    assert not list(folder.glob(".*.new"))


def test_another_worker_never_takes_a_file_being_created_for_a_dead_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers of one service share the spool folder. A file created but not yet locked looks
    like a dead process's file: the other worker's replay must not find it under its final name,
    or it removes it and the records appended after it are lost."""
    store = Store("sqlite://")
    folder = tmp_path / "spool"
    this_worker = AuditSpool(folder, "the-store", max_bytes=1 << 20)
    other_worker = AuditSpool(folder, "the-store", max_bytes=1 << 20)
    real_flock = fcntl.flock
    interleaved = []

    def other_worker_replays_first(fd: int, operation: int) -> None:
        if not interleaved:  # the first lock: this worker's new file
            interleaved.append(fd)
            other_worker.replay(store.record_audits)
        real_flock(fd, operation)

    monkeypatch.setattr(fcntl, "flock", other_worker_replays_first)
    assert this_worker.append([record(1)]) == 1
    monkeypatch.setattr(fcntl, "flock", real_flock)
    assert this_worker.append([record(2)]) == 1
    this_worker.replay(store.record_audits)
    assert interleaved
    assert {r.hook_instance for r in store.audit_records()} == {"hook-1", "hook-2"}


class BuggyStore(Store):
    """A store that raises something other than a database error on one record (a bug)."""

    def record_audits(self, records):
        if any(record.hook_instance == "refused" for record in records):
            raise ValueError("a bug in the store")
        return super().record_audits(records)


def test_the_writer_survives_a_record_the_store_refuses(tmp_path: Path) -> None:
    store = BuggyStore("sqlite://")
    writer = AuditWriter(store, spool_in(tmp_path))
    writer.submit(AuditRecord(service="svc", hook_instance="refused"))
    writer.submit(record(1))
    writer.flush()
    writer.close()
    assert [r.hook_instance for r in store.audit_records()] == ["hook-1"]
