"""Connecting to the database: the SQLAlchemy URL and engine for SQLite or PostgreSQL, the
dialect's INSERT (for ON CONFLICT), and the schema brought up to date by the migrations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import StaticPool

from service.storage import migrate

# A database host that does not answer at all must not hold a request for minutes.
CONNECT_TIMEOUT_S = 3


def engine_url(url: str, base_dir: Path | None = None) -> URL:
    """The SQLAlchemy URL to connect to: psycopg 3 for PostgreSQL; SQLite paths resolved."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        return parsed.set(database=str(path))
    return parsed


def store_engine(url: URL) -> Engine:
    """An engine that connects to nothing yet. Raises ValueError for a database it cannot use
    (another kind, or a SQLite file in a folder that does not exist)."""
    if url.get_backend_name() == "postgresql":
        return create_engine(
            url,
            pool_pre_ping=True,
            pool_size=5,
            max_overflow=10,
            connect_args={"connect_timeout": CONNECT_TIMEOUT_S},
        )
    if url.get_backend_name() != "sqlite":
        raise ValueError(f"store: unsupported database {url.get_backend_name()!r}")
    if url.database in (None, "", ":memory:"):
        engine = create_engine(url, connect_args={"check_same_thread": False}, poolclass=StaticPool)
    else:
        folder = Path(url.database).parent
        # Never created here: a typo in store.url would put the audit trail where nobody looks.
        if not folder.is_dir():
            raise ValueError(f"store.url: the folder {str(folder)!r} does not exist")
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout = 30000")  # first: the next pragma may wait
        cursor.execute("PRAGMA journal_mode = WAL")  # readers never block the writer
        cursor.execute("PRAGMA synchronous = FULL")  # a commit is on disk when it returns
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    return engine


def insert(dialect: str, table: Any) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT DO NOTHING."""
    return (postgresql if dialect == "postgresql" else sqlite).insert(table)


def create_schema(engine: Engine) -> None:
    """Bring the schema up to date (Alembic revisions); safe when several workers or instances
    start at once."""
    migrate.upgrade(engine)
