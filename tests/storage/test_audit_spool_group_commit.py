"""Group commit of the audit spool: threads appending at once share fsyncs, and still none of
them returns before an fsync that began after its line was written ("nothing acknowledged is
lost": the hook's answer leaves only once its audit record is on disk). Also while the replay
empties and rotates the file under the appends."""

from __future__ import annotations

import os
import stat
import threading
import time
from pathlib import Path

import pytest
from test_audit_spool import record

from service.storage import Store
from service.storage import spool as spool_module
from service.storage.spool import AuditSpool

THREADS = 8
APPENDS_PER_THREAD = 40


class FsyncWitness:
    """Replaces os.fsync for the spool: what each fsync made durable, read from the file when
    it began (a line in that snapshot was written before the flush), and how many there were."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.durable: set[str] = set()  # hook instances in the snapshot of a finished fsync
        self.calls = 0
        self.real_fsync = os.fsync

    def fsync(self, descriptor: int) -> None:
        status = os.fstat(descriptor)
        if stat.S_ISDIR(status.st_mode):  # the folder, after a file was created or removed
            self.real_fsync(descriptor)
            return
        # The spool writes through an append-only descriptor: read the same file anew.
        with open(f"/proc/self/fd/{descriptor}", "rb") as file:
            snapshot = file.read().decode()
        time.sleep(0.002)  # a disk flush takes time: the moment other threads pile up
        self.real_fsync(descriptor)
        with self.lock:
            self.calls += 1
            self.durable.update(
                line.split('"hook_instance": "', 1)[1].split('"', 1)[0]
                for line in snapshot.splitlines()
                if '"hook_instance": "' in line
            )


@pytest.mark.parametrize("replaying", [False, True], ids=["appends only", "replay meanwhile"])
def test_concurrent_appends_share_fsyncs_and_each_returns_durable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, replaying: bool
) -> None:
    witness = FsyncWitness()
    monkeypatch.setattr(spool_module.os, "fsync", witness.fsync)
    # Rotation threshold low enough that the replay below rotates the file under the appends.
    monkeypatch.setattr(spool_module, "ROTATE_AFTER_BYTES", 4096)
    store = Store("sqlite://")
    spool = AuditSpool(tmp_path / "spool", "sqlite://", max_bytes=1 << 24)
    stored: set[str] = set()
    not_durable: list[str] = []
    kept: list[int] = []
    done = threading.Event()

    def store_replayed(records):
        stored.update(r.hook_instance for r in records)
        return store.record_audits(records)

    def append(thread: int) -> None:
        for n in range(APPENDS_PER_THREAD):
            name = f"t{thread}-{n}"
            kept.append(spool.append([record(thread * 1000 + n, hook_instance=name)]))
            # A line the replay took is in the store (committed): durable as well.
            if name not in witness.durable and name not in stored:
                not_durable.append(name)

    def replay() -> None:
        while not done.is_set():
            spool.replay(store_replayed)

    threads = [threading.Thread(target=append, args=(t,)) for t in range(THREADS)]
    replayer = threading.Thread(target=replay)
    if replaying:
        replayer.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    if replaying:
        replayer.join()
    spool.replay(store_replayed)

    appends = THREADS * APPENDS_PER_THREAD
    assert kept == [1] * appends
    assert not_durable == []
    if not replaying:  # (the replay adds fsyncs of its own: the file emptied, rotated)
        # One fsync an append before group commit: 320 here; about 100 with it.
        assert witness.calls < appends / 2, f"{witness.calls} fsyncs for {appends} appends"
    assert len({r.hook_instance for r in store.audit_records()}) == appends


def test_an_append_replayed_and_closed_before_its_fsync_returns_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At exit the writer replays the spool and closes it; a request thread may be between its
    write and its fsync. Its line is in the store by then, the file emptied: the fsync it waits
    for is no longer needed (it used to fail an assertion: the file was gone)."""
    store = Store("sqlite://")
    spool = AuditSpool(tmp_path / "spool", "sqlite://", max_bytes=1 << 20)
    waiting: list[int] = []
    real_sync = spool._sync
    monkeypatch.setattr(spool, "_sync", waiting.append)  # the thread, paused before its fsync
    assert spool.append([record(1, hook_instance="paused")]) == 1
    assert spool.replay(store.record_audits) == 1  # the writer's last replay empties the file
    spool.close()
    real_sync(waiting[0])  # the thread goes on: returns, its record is kept
    assert [r.hook_instance for r in store.audit_records()] == ["paused"]
