"""The audit spool: every audit record, on local disk, until the store has it.

One file per worker process (`audit-<store>-<created>-<pid>.jsonl` in the spool folder), one
JSON record per line, each append fsynced before it returns. Appends of concurrent requests share
their fsyncs (group commit): a thread whose line another thread's fsync covered returns without
one of its own, so the worker's threads no longer queue behind each other's disk flushes.

The process holds an exclusive `flock` on its file while it lives; a file nobody holds belongs to
a process that has died (SIGKILL, crash, restart), and any worker of the same store replays it.
Records are replayed in the order they were written, oldest file first; every record carries an
idempotent key (`record_key`), so a record replayed twice (a crash between the store's commit and
the file's truncation) is stored once.

The file is bounded (`max_bytes`): when full, a record is not kept, and the log line and the
`cds_audit_lost_total{reason="spool-full"}` metric say so (`spool-unwritable`: a disk error).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from service.audit_record import AuditRecord
from service.observability import count_audit_lost, count_audit_replayed, count_audit_spooled

# Stores a batch of replayed records (the store's record_audits).
_Write = Callable[[list[AuditRecord]], Any]

log = logging.getLogger("service.storage.spool")
# A file replayed this far while records keep coming is replaced by a new one (`_rotate`).
ROTATE_AFTER_BYTES = 1 << 20

REPLAY_BATCH = 200


def store_tag(store_url: str) -> str:
    """A short name for the store a spool file belongs to (never its password): a spool folder
    shared by two services on two stores never replays one's records into the other."""
    return hashlib.sha256(store_url.encode()).hexdigest()[:12]


class AuditSpool:
    """This process's spool file (created on first use) and the replay of every file of the
    folder that belongs to its store. Thread-safe."""

    def __init__(self, folder: Path, store_url: str, max_bytes: int) -> None:
        # Absolute now: a relative folder (the default data/audit-spool) must not change meaning
        # if the working folder does (the replay at exit opened it relative to another one).
        self.folder = Path(folder).resolve()
        self.max_bytes = max_bytes
        self._prefix = f"audit-{store_tag(store_url)}-"
        self._file: IO[bytes] | None = None
        self._path: Path | None = None
        self._size = 0
        self._replayed_to = 0  # bytes of our file already in the store
        self._lock = threading.Lock()  # appends and truncation
        self._replay_lock = threading.Lock()  # one replay at a time
        # Group commit: appends are numbered; `_synced` is the highest one an fsync has covered.
        # One fsync at a time (`_syncing`); its waiters are woken by `_synced_changed` as soon as
        # it ends (a Condition on `_lock`).
        self._synced_changed = threading.Condition(self._lock)
        self._syncing = False
        self._appended = 0
        self._synced = 0

    # Writing ------------------------------------------------------------------------------

    def append(self, records: Sequence[AuditRecord]) -> int:
        """Write `records` durably (fsync); return how many were kept (the rest: spool full)."""
        lines = [(json.dumps(r.to_json(), ensure_ascii=False) + "\n").encode() for r in records]
        try:
            kept = self._write(lines)
        except OSError as exc:
            count_audit_lost("spool-unwritable", len(lines))
            log.error(
                "audit spool %s unwritable (%s): %d audit records NOT kept",
                self.folder,
                exc.strerror or type(exc).__name__,
                len(lines),
            )
            return 0
        lost = len(lines) - len(kept)
        if kept:
            count_audit_spooled(len(kept))
        if lost:
            count_audit_lost("spool-full", lost)
            log.error(
                "audit spool full (%s, %d bytes, limit store.spool_max_mb): %d audit records "
                "NOT kept; the store has been unreachable too long",
                self._path,
                self._size,
                lost,
            )
        return len(kept)

    def _write(self, lines: list[bytes]) -> list[bytes]:
        with self._lock:
            file = self._open()
            kept = []
            size = self._size
            for line in lines:
                if size + len(line) > self.max_bytes:
                    break
                kept.append(line)
                size += len(line)
            if not kept:
                return kept
            file.write(b"".join(kept))
            file.flush()
            self._size = size
            self._appended += 1
            appended = self._appended
        self._sync(appended)
        return kept

    def _sync(self, appended: int) -> None:
        """Return once append number `appended` is on disk: covered by an fsync another thread
        made after it was written, or by one made here, which covers every append before it.

        One thread fsyncs at a time; the others wait for the end of the fsync under way, then
        return if it covered them, or one of them starts the next fsync for all the rest. (With
        a plain lock around the fsync instead, a thread already covered could only find out
        once it got the lock, so it often waited behind the next fsync too: 180 fsyncs for 320
        appends of 8 threads, against 79 now; tests/storage/test_audit_spool_group_commit.py.)

        The current file is the right one to flush even if `_rotate` or the truncation replaced
        or emptied the file an earlier append went to: both run only once those lines are in the
        store or fsynced in the new file. The descriptor is duplicated under the lock, so that a
        rotation closing the file meanwhile cannot make this fsync fail."""
        with self._synced_changed:
            while self._synced < appended and self._syncing:
                self._synced_changed.wait()
            if self._synced >= appended:
                return
            covered = self._appended
            assert self._file is not None  # close() marks every append it closes on synced
            descriptor = os.dup(self._file.fileno())
            self._syncing = True
        try:
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
        except BaseException:
            with self._synced_changed:  # a waiter tries the next fsync itself
                self._syncing = False
                self._synced_changed.notify_all()
            raise
        with self._synced_changed:
            self._syncing = False
            self._synced = max(self._synced, covered)
            self._synced_changed.notify_all()

    def _open(self) -> IO[bytes]:
        if self._file is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            name = f"{self._prefix}{time.time_ns():020d}-{os.getpid()}.jsonl"
            # Created under a name the replay never matches, locked, then renamed: a file of
            # the replay's pattern that nobody holds is always a dead process's, never one
            # being created by a live worker (which another worker would replay and remove).
            creating = self.folder / f".{name}.new"
            file = open(creating, "ab")  # noqa: SIM115 - open as long as the process
            try:
                fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                # link, not rename: a rename would silently replace a live file of the same
                # name (two containers on one volume, same pid and nanosecond).
                os.link(creating, self.folder / name)
                creating.unlink()
            except OSError:
                file.close()
                with contextlib.suppress(OSError):
                    creating.unlink()
                raise
            _fsync_folder(self.folder)  # the new file's name survives a power loss too
            self._file, self._path = file, self.folder / name
            self._size = 0
            self._replayed_to = 0
        return self._file

    # Replaying ----------------------------------------------------------------------------

    def pending(self) -> bool:
        """Something to replay: records in our file, or a file left by a dead process."""
        with self._lock:
            if self._size > self._replayed_to:
                return True
        return any(path != self._path for path in self._files())

    def own_file_drained(self) -> bool:
        with self._lock:
            return self._size <= self._replayed_to

    def replay(self, write: _Write) -> int:
        """Hand every spooled record to `write` (the store), in order, in batches; return how
        many. `write` raising (the store is down again) stops the replay, which resumes from
        where it stopped next time."""
        replayed = 0
        with self._replay_lock:
            for path in self._files():
                if path != self._path:
                    replayed += self._replay_orphan(path, write)
            replayed += self._replay_own(write)
        if replayed:
            count_audit_replayed(replayed)
            log.warning("audit spool: %d records replayed into the store", replayed)
        return replayed

    def _files(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        # The creation time leads the name: sorting by name is sorting by age.
        return sorted(self.folder.glob(f"{self._prefix}*.jsonl"))

    def _replay_own(self, write: _Write) -> int:
        replayed = 0
        while True:
            with self._lock:
                if self._file is None or self._path is None or self._size <= self._replayed_to:
                    return replayed
                start, end, path = self._replayed_to, self._size, self._path
            with open(path, "rb") as reader:
                reader.seek(start)
                data = reader.read(end - start)
            replayed += _write_lines(data, path, write)
            with self._lock:
                self._replayed_to = end
                if self._size == end:  # nothing appended meanwhile: start the file afresh
                    assert self._file is not None
                    self._file.truncate(0)
                    os.fsync(self._file.fileno())
                    self._size = self._replayed_to = 0
                elif end >= min(ROTATE_AFTER_BYTES, self.max_bytes // 2):
                    self._rotate(end)

    def _rotate(self, replayed_to: int) -> None:
        """Under steady traffic the file is never found idle, so it is never truncated: carry
        the lines not replayed yet to a new file and remove the old one (called with the lock
        held, so no append is lost between the two). A crash in between leaves the old file to
        be replayed whole: its records are stored once (record_key)."""
        assert self._file is not None and self._path is not None
        old_file, old_path, old_size = self._file, self._path, self._size
        with open(old_path, "rb") as reader:
            reader.seek(replayed_to)
            tail = reader.read(old_size - replayed_to)
        self._file = None
        try:
            new_file = self._open()
            try:
                new_file.write(tail)
                new_file.flush()
                os.fsync(new_file.fileno())
            except OSError:
                new_file.close()
                assert self._path is not None
                self._path.unlink(missing_ok=True)
                raise
        except OSError as exc:
            # The carry is an optimisation: keep writing to the old file, try again later.
            self._file, self._path, self._size = old_file, old_path, old_size
            self._replayed_to = replayed_to
            log.warning("audit spool: new file not created (%s), the old one kept", exc.strerror)
            return
        self._size = len(tail)
        old_path.unlink()
        _fsync_folder(self.folder)
        old_file.close()

    def _replay_orphan(self, path: Path, write: _Write) -> int:
        try:
            file = open(path, "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            return 0  # replayed by another worker just now
        with file:
            try:
                fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return 0  # its process lives (or another worker is replaying it)
            if os.fstat(file.fileno()).st_nlink == 0:
                return 0  # replayed and removed by another worker before we locked it
            replayed = _write_lines(file.read(), path, write)
            # Gone already: another process removed it after storing it too (stored once).
            path.unlink(missing_ok=True)
            _fsync_folder(self.folder)
            return replayed

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                # An empty file goes while its lock is still held: closed first, another
                # process's replay could lock it, and the two would remove it twice.
                if self._path is not None and self._size == 0:
                    with contextlib.suppress(OSError):
                        self._path.unlink()
                else:
                    self._file.flush()
                    os.fsync(self._file.fileno())
                # An append written but not yet fsynced by its thread (`_sync`) is now durable:
                # fsynced just above, or already in the store (the file was emptied after its
                # replay). That thread finds it covered instead of a closed file.
                self._synced = self._appended
                self._synced_changed.notify_all()
                self._file.close()
                self._file = None


def _write_lines(data: bytes, path: Path, write: _Write) -> int:
    records = list(_records(data, path))
    for start in range(0, len(records), REPLAY_BATCH):
        write(records[start : start + REPLAY_BATCH])
    return len(records)


def _records(data: bytes, path: Path) -> Iterator[AuditRecord]:
    for number, line in enumerate(data.splitlines(), start=1):
        try:
            record = json.loads(line)
        except ValueError:
            # A line cut short by a crash during its write: its request was never answered.
            log.error("audit spool %s line %d: not a complete record, skipped", path.name, number)
            continue
        try:
            yield AuditRecord.from_json(record)
        except ValueError as exc:
            log.error(
                "audit spool %s line %d: not an audit record (%s), skipped", path.name, number, exc
            )


def _fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
