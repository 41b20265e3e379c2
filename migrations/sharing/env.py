"""alembic environment of the sharing service (schema `sharing`)."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine, text

from services.kit.db import sync_url
from services.sharing.models import Base

SCHEMA = "sharing"
config = context.config
url = config.attributes.get("database_url") or os.environ.get("SHARING_DATABASE_URL")
if not url:
    raise SystemExit("set SHARING_DATABASE_URL to migrate the sharing database")


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is None:
        engine = create_engine(sync_url(url))
        with engine.begin() as connection:
            _run(connection)
        engine.dispose()
    else:
        _run(connectable)


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        version_table_schema=SCHEMA,
        include_schemas=False,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
