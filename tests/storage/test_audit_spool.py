"""The audit spool: records the store cannot take are kept on disk, replayed in order once, and
never stored twice; a full spool says so."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from sqlalchemy.exc import DataError, OperationalError

from service.audit_record import AuditCard, AuditRecord
from service.storage import Store
from service.storage import audit_writer as audit_writer_module
from service.storage.audit_writer import AuditWriter
from service.storage.spool import AuditSpool

ROOT = Path(__file__).resolve().parents[2]


def record(n: int, key: bool = True, hook_instance: str | None = None) -> AuditRecord:
    out = AuditRecord(
        service="cementoplasty-order-select",
        hook_instance=hook_instance or f"hook-{n}",
        rules_fired=("BLEED-PLATELETS-LOW",),
        cards=(AuditCard(f"card-{n}", "critical", ("BLEED-PLATELETS-LOW",)),),
    )
    return replace(out, record_key=f"key-{n}") if key else out


class FlakyStore:
    """A real store whose audit writes fail while `down` (as a stopped database does)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.down = False

    def record_audits(self, records):
        if self.down:
            raise OperationalError("INSERT", {}, Exception("connection refused"))
        if any(r.hook_instance == "bug" for r in records):
            raise ValueError("a record the store cannot take (a bug, not an outage)")
        return self.store.record_audits(records)

    def record_audit(self, record):
        return self.record_audits([record])[0]


def sample(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


def lost(reason: str) -> float:
    return REGISTRY.get_sample_value("cds_audit_lost_total", {"reason": reason}) or 0.0


def hooks(store: Store) -> list[str]:
    return [row.hook_instance for row in store.audit_records()]


def test_a_record_stored_twice_is_stored_once(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/store.sqlite3")
    first = store.record_audits([record(1), record(2)])
    again = store.record_audits([record(2), record(3), record(3)])
    assert hooks(store) == ["hook-1", "hook-2", "hook-3"]
    assert again[0] == first[1] and again[1] == again[2]
    report = store.report_rows()
    assert report.by_rule["BLEED-PLATELETS-LOW"].fired == 3  # no rule row written twice


def test_records_without_a_key_are_all_stored() -> None:
    store = Store("sqlite://")
    store.record_audits([record(1, key=False), record(1, key=False)])
    assert hooks(store) == ["hook-1", "hook-1"]


def test_spooled_records_are_replayed_in_order_then_the_file_starts_afresh(
    tmp_path: Path,
) -> None:
    store = Store("sqlite://")
    spool = AuditSpool(tmp_path / "spool", "sqlite://", max_bytes=1 << 20)
    assert spool.append([record(n) for n in range(5)]) == 5
    assert spool.pending()
    (path,) = (tmp_path / "spool").iterdir()
    assert [json.loads(line)["hook_instance"] for line in path.read_text().splitlines()] == [
        f"hook-{n}" for n in range(5)
    ]
    assert spool.replay(store.record_audits) == 5
    assert hooks(store) == [f"hook-{n}" for n in range(5)]
    assert path.stat().st_size == 0 and not spool.pending()
    spool.append([record(5)])
    spool.replay(store.record_audits)
    assert hooks(store) == [f"hook-{n}" for n in range(6)]


def test_a_full_spool_keeps_what_fits_and_says_so(tmp_path: Path, caplog) -> None:
    line = len(json.dumps(record(0).to_json())) + 1
    spool = AuditSpool(tmp_path / "spool", "sqlite://", max_bytes=3 * line + 5)
    before = lost("spool-full")
    with caplog.at_level(logging.ERROR):
        assert spool.append([record(n) for n in range(5)]) == 3
    assert lost("spool-full") - before == 2
    assert any("audit spool full" in r.getMessage() for r in caplog.records)


def test_the_writer_spools_while_the_store_is_down_and_replays_once_it_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit_writer_module, "REPLAY_EVERY_S", 0.1)
    real = Store(f"sqlite:///{tmp_path}/store.sqlite3")
    flaky = FlakyStore(real)
    spool = AuditSpool(tmp_path / "spool", "x", max_bytes=1 << 20)
    writer = AuditWriter(flaky, spool)  # type: ignore[arg-type]
    writer.submit(record(0))
    writer.flush()
    spooled_before = sample("cds_audit_spooled_total")
    flaky.down = True
    for n in range(1, 30):
        writer.submit(record(n, key=False))  # each record has its own key
    writer.flush()
    assert hooks(real) == ["hook-0"]  # was: the batch lost ("audit batch of N not stored")
    assert sample("cds_audit_spooled_total") - spooled_before == 29
    flaky.down = False
    deadline = time.monotonic() + 10
    while len(hooks(real)) < 30 and time.monotonic() < deadline:
        time.sleep(0.05)
    writer.submit(record(30))
    writer.flush()
    writer.close()
    assert hooks(real) == [f"hook-{n}" for n in range(31)]  # in order, each once


SPOOL_THEN_DIE = """
import sys, os, signal
from service.audit_record import AuditRecord
from service.storage.spool import AuditSpool
spool = AuditSpool(sys.argv[1], "the-store", max_bytes=1 << 20)
spool.append([AuditRecord(service="s", hook_instance=f"dead-{n}", record_key=f"dead-{n}")
              for n in range(3)])
with open(next(spool.folder.iterdir()), "ab") as file:
    file.write(b'{"service": "s", "hookInst')  # a line cut short by the crash
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_the_file_of_a_killed_process_is_replayed_by_another_once(tmp_path: Path) -> None:
    folder = tmp_path / "spool"
    dead = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SPOOL_THEN_DIE), str(folder)], cwd=ROOT, check=False
    )
    assert dead.returncode == -9
    store = Store("sqlite://")
    other_store = AuditSpool(folder, "another-store", max_bytes=1 << 20)
    assert other_store.replay(store.record_audits) == 0  # not its store's records
    spool = AuditSpool(folder, "the-store", max_bytes=1 << 20)
    assert spool.pending()
    assert spool.replay(store.record_audits) == 3
    assert hooks(store) == ["dead-0", "dead-1", "dead-2"]
    assert list(folder.iterdir()) == []
    assert spool.replay(store.record_audits) == 0


def test_the_file_of_a_live_process_is_left_to_it(tmp_path: Path) -> None:
    folder = tmp_path / "spool"
    alive = AuditSpool(folder, "the-store", max_bytes=1 << 20)
    alive.append([record(1)])
    store = Store("sqlite://")
    assert AuditSpool(folder, "the-store", max_bytes=1 << 20).replay(store.record_audits) == 0
    assert hooks(store) == []


def test_an_unwritable_spool_loses_the_records_loudly_and_the_writer_lives_on(
    tmp_path: Path, caplog
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the spool folder should be")
    spool = AuditSpool(blocked, "x", max_bytes=1 << 20)
    before = lost("spool-unwritable")
    with caplog.at_level(logging.ERROR):
        assert spool.append([record(1)]) == 0
    assert lost("spool-unwritable") - before == 1
    assert any("unwritable" in r.getMessage() for r in caplog.records)


def test_a_record_the_store_refuses_does_not_block_the_spool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit_writer_module, "REPLAY_EVERY_S", 0.1)
    real = Store("sqlite://")
    flaky = FlakyStore(real)
    writer = AuditWriter(flaky, AuditSpool(tmp_path / "spool", "x", max_bytes=1 << 20))  # type: ignore[arg-type]
    flaky.down = True
    writer.submit(record(1))
    writer.flush()
    writer.submit(record(9, hook_instance="bug"))  # spooled, then refused by the store
    writer.submit(record(2))
    flaky.down = False
    writer.flush()
    writer.close()
    assert hooks(real) == ["hook-1", "hook-2"]


def test_the_spool_settings_are_read_from_the_store_table(tmp_path: Path) -> None:
    from service.config import Config, ConfigError, parse_config

    config = parse_config({"store": {"spool_dir": "spool", "spool_max_mb": 10}}, base_dir=tmp_path)
    assert config.store.spool_dir == tmp_path / "spool"  # relative to the configuration file
    assert config.store.spool_max_bytes == 10 * 2**20
    assert parse_config({}).store.spool_dir == Config().store.spool_dir == Path("data/audit-spool")
    with pytest.raises(ConfigError, match=r"store\.spool_max_mb"):
        parse_config({"store": {"spool_max_mb": 0}})


class RefusingStore(FlakyStore):
    """A working store that refuses one record's value, as PostgreSQL refuses a string longer
    than its column (DataError): the database answers, it is no outage."""

    def record_audits(self, records):
        if any(r.hook_instance == "refused" for r in records):
            raise DataError("INSERT", {}, Exception("value too long for type character varying"))
        return super().record_audits(records)


def test_a_record_the_store_refuses_never_blocks_the_audit_trail(tmp_path: Path) -> None:
    """One refused record (a review found a 201-character hookInstance on PostgreSQL) was taken
    for an outage: spooled, replayed and refused for ever, every later record behind it."""
    real = Store(f"sqlite:///{tmp_path}/store.sqlite3")
    spool = AuditSpool(tmp_path / "spool", "x", max_bytes=1 << 20)
    writer = AuditWriter(RefusingStore(real), spool)  # type: ignore[arg-type]
    before = lost("refused")
    writer.submit(record(0, hook_instance="refused"))
    for n in range(1, 6):
        writer.submit(record(n))
    writer.flush()
    writer.close()
    assert hooks(real) == [f"hook-{n}" for n in range(1, 6)]
    assert not spool.pending()
    assert lost("refused") - before == 1


def test_an_orphan_removed_by_another_worker_during_its_replay_is_no_error(
    tmp_path: Path,
) -> None:
    """Seen at the end of a full run (several apps, one spool folder): a replay raised
    FileNotFoundError on removing an orphan file removed meanwhile (a closing spool unlinked
    its empty file after releasing its lock, now before). Whoever removes it, the replay's
    records are stored, and a record stored twice is stored once (record_key)."""
    folder = tmp_path / "spool"
    gone = AuditSpool(folder, "the-store", max_bytes=1 << 20)
    gone.append([record(1), record(2)])
    gone.close()  # its worker exited: the file is an orphan
    (orphan,) = folder.iterdir()
    store = Store("sqlite://")

    def write_then_lose_the_file(records: list[AuditRecord]) -> None:
        store.record_audits(records)
        orphan.unlink()  # another worker's replay removed it meanwhile

    spool = AuditSpool(folder, "the-store", max_bytes=1 << 20)
    assert spool.replay(write_then_lose_the_file) == 2
    assert hooks(store) == ["hook-1", "hook-2"]
