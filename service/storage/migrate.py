"""Schema migrations: Alembic owns the schema on SQLite and PostgreSQL.

`upgrade(engine)` applies the pending revisions of `service/storage/migrations/versions` once,
even when several workers or replicas start together: on PostgreSQL under a transaction-level
advisory lock (DDL is transactional there: one migrates, the others wait, then find the
database at the head revision), on a SQLite file under an exclusive lock on a file next to it.
A database created by the release before migrations (no `alembic_version` table) is adopted by
the baseline revision, which creates only what is missing, and then upgraded like any other.

A new schema change: edit `schema.py`, then add a revision under `migrations/versions` that
does the same (`tests/storage/test_migrations.py` checks that the two agree).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

log = logging.getLogger("service.storage.migrate")

MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant: it names the lock that serialises migrations between processes.
MIGRATION_LOCK_KEY = 0x43445343  # "CDSC"


def alembic_config(connection: Connection) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert head is not None
    return head


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> None:
    """Apply every pending revision (raises SQLAlchemyError while the store is unreachable)."""
    with _migration_lock(engine), engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
        current = current_revision(connection)
        if current == head_revision():
            return  # the usual case: nothing to do, nothing logged
        log.warning("store schema: upgrading from revision %s to %s", current, head_revision())
        command.upgrade(alembic_config(connection), "head")


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """On a SQLite file, an exclusive lock on `<database>.migrate-lock` (PostgreSQL: none here,
    the advisory lock is taken inside the transaction; an in-memory database: one process)."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or database in (None, "", ":memory:"):
        yield
        return
    lock_path = Path(f"{database}.migrate-lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as lock_file:
        fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_UN)
