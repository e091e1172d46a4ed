"""Alembic environment: runs the revisions on the connection `service.storage.migrate` hands
over (already inside its transaction and, on PostgreSQL, holding the migration lock)."""

from __future__ import annotations

from alembic import context

from service.storage.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
