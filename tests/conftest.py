"""Root of the test suite: the `store_url` fixture shared by the storage and reliability tests,
and the working folder every test runs in.

Helpers shared by several test folders live in tests/support/ (`from support.fhir_builders
import ...`); pytest's `pythonpath` setting (pyproject.toml) puts the checkout, tests/ and
fixtures/ (the fixture patient and its cases, `build`) on the import path."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

# The role and database that scripts/start-postgres.sh creates (`make test` runs it first).
POSTGRES_SERVER = "postgresql://cds_test:cds_test@127.0.0.1:5432"
POSTGRES_ADMIN = f"{POSTGRES_SERVER}/cds_test"


def _postgres_unreachable() -> str | None:
    """Why the test PostgreSQL cannot be used, or None."""
    try:
        with psycopg.connect(POSTGRES_ADMIN, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


@pytest.fixture(autouse=True, scope="session")
def working_folder_outside_the_checkout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """An app built on the default configuration keeps its audit spool in `data/audit-spool` of
    the working folder: run in the checkout, the tests wrote there, and an in-memory store's
    records left unreplayed at the end of one run were replayed into another run's store."""
    checkout = Path.cwd()
    os.chdir(tmp_path_factory.mktemp("working-folder"))
    yield
    os.chdir(checkout)


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        (tmp_path / "data").mkdir()  # the store never creates its folder
        yield f"sqlite:///{tmp_path}/data/store.sqlite3"
        return
    reason = _postgres_unreachable()
    if reason is not None:
        # Never a skip: a green run that silently left out every PostgreSQL test proves nothing.
        pytest.fail(f"test PostgreSQL unreachable ({reason}); run scripts/start-postgres.sh")
    name = f"cds_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES_SERVER}/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
