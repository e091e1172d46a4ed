"""Schema changes are migrations: Alembic builds the schema of schema.py, adopts and upgrades a
database of the previous release without losing a row, and runs once when processes race."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from support.previous_release_schema import metadata as previous_metadata

from service.audit_record import AuditRecord
from service.storage import Store
from service.storage.migrate import current_revision, head_revision
from service.storage.schema import metadata
from service.storage.store import engine_url

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def test_the_revisions_build_exactly_the_schema_of_schema_py(store_url: str) -> None:
    store = Store(store_url)
    try:
        with store.engine.connect() as connection:
            assert current_revision(connection) == head_revision()
            differences = compare_metadata(MigrationContext.configure(connection), metadata)
        assert differences == []
    finally:
        store.close()


def previous_release_database(store_url: str) -> dict[str, list[tuple]]:
    """A database as the previous release created and filled it; returns every row."""
    url = engine_url(store_url)
    if url.get_backend_name() == "sqlite":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url)
    try:
        previous_metadata.create_all(engine)
        with engine.begin() as connection:
            connection.execute(
                previous_metadata.tables["feedback"].insert(),
                [
                    {
                        "item_hash": f"{n:064x}",
                        "service_id": "cementoplasty-order-select",
                        "card_uuid": f"card-{n}",
                        "outcome": "overridden" if n % 2 else "accepted",
                        "outcome_timestamp": "2026-11-26T09:05:00+01:00",
                        "accepted_suggestions": "[]",
                        "override_code": "not-applicable" if n % 2 else None,
                        "override_system": "https://example.org/reasons" if n % 2 else None,
                        "override_display": "Ne s'applique pas" if n % 2 else None,
                        "user_comment": "plaquettes transfusées" if n % 2 else None,
                        "received_at": NOW,
                    }
                    for n in range(4)
                ],
            )
            audit_ids = [
                connection.execute(
                    previous_metadata.tables["audit"].insert(),
                    {
                        "service_id": "cementoplasty-order-select",
                        "hook_instance": f"hook-{n}",
                        "recorded_at": NOW,
                        "ruleset_version": "2026.1",
                        "patient_id": "p-1",
                        "status": 200,
                        "latency_ms": 12.5,
                        "rule_ids": '["BLEED-PLATELETS-LOW"]',
                        "cards": f'[{{"indicator":"critical","rule_ids":[],"uuid":"card-{n}"}}]',
                        "resources_used": '{"BLEED-PLATELETS-LOW":["Observation/1/_history/2"]}',
                        "data_unavailable": "[]",
                    },
                ).inserted_primary_key[0]
                for n in range(4)
            ]
            connection.execute(
                previous_metadata.tables["audit_rule"].insert(),
                [{"audit_id": audit_ids[n], "rule_id": "BLEED-PLATELETS-LOW"} for n in range(4)],
            )
            connection.execute(
                previous_metadata.tables["audit_card"].insert(),
                [
                    {
                        "audit_id": audit_ids[n],
                        "card_uuid": f"card-{n}",
                        "indicator": "critical",
                        "rule_id": "BLEED-PLATELETS-LOW",
                    }
                    for n in range(4)
                ],
            )
            connection.execute(
                previous_metadata.tables["jti"].insert(),
                [{"iss": "https://ehr", "jti": "seen-before", "expires_at": 4_000_000_000}],
            )
        return all_rows(engine)
    finally:
        engine.dispose()


def all_rows(engine) -> dict[str, list[tuple]]:
    columns = {name: list(table.c.keys()) for name, table in previous_metadata.tables.items()}
    with engine.connect() as connection:
        return {
            name: sorted(
                tuple(row)
                for row in connection.execute(
                    text(f"SELECT {', '.join(names)} FROM {name}")  # the previous columns
                )
            )
            for name, names in columns.items()
        }


def test_a_database_of_the_previous_release_is_upgraded_and_loses_nothing(store_url: str) -> None:
    before = previous_release_database(store_url)
    assert len(before["audit"]) == 4 and len(before["feedback"]) == 4
    store = Store(store_url)  # start-up: adopt the database, apply the pending revisions
    try:
        assert all_rows(store.engine) == before
        with store.engine.connect() as connection:
            assert current_revision(connection) == head_revision()
            columns = {c["name"] for c in inspect(connection).get_columns("audit")}
        assert "record_key" in columns
        # The old records still count in the report, the new ones join them, once each.
        new = AuditRecord(
            service="cementoplasty-order-select",
            hook_instance="hook-new",
            rules_fired=("BLEED-PLATELETS-LOW",),
            record_key="key-new",
        )
        store.record_audits([new])
        store.record_audits([new])
        report = store.report_rows()
        assert report.evaluations == 5
        assert report.by_rule["BLEED-PLATELETS-LOW"].fired == 5
        assert report.by_rule["BLEED-PLATELETS-LOW"].overridden == 2
        assert store.claim("https://ehr", "seen-before", int(time.time()) + 60) is False
    finally:
        store.close()
    # A second start finds nothing to do and changes nothing.
    again = Store(store_url)
    try:
        assert len(again.audit_records()) == 5
    finally:
        again.close()


START_AT_ONCE = """
import logging, sys, time
logging.basicConfig(level=logging.WARNING)
start = float(sys.argv[2])
time.sleep(max(0.0, start - time.time()))
from service.storage import Store
store = Store(sys.argv[1])
print(len(store.audit_records()), flush=True)
"""


def test_replicas_starting_together_upgrade_the_previous_release_once(store_url: str) -> None:
    previous_release_database(store_url)
    start = str(time.time() + 3.0)
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(START_AT_ONCE), store_url, start],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    results = [process.communicate(timeout=120) for process in processes]
    assert all(process.returncode == 0 for process in processes), [err for _, err in results]
    assert [out.strip() for out, _ in results] == ["4"] * 6
    upgraded = [err for _, err in results if "store schema: upgrading" in err]
    assert len(upgraded) == 1, [err[-500:] for _, err in results]
