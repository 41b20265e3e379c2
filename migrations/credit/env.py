"""alembic environment of the credit service (schema `credit`)."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine, text

from services.credit.models import Base
from services.kit.db import sync_url

SCHEMA = "credit"
config = context.config
url = config.attributes.get("database_url") or os.environ.get("CREDIT_DATABASE_URL")
if not url:
    raise SystemExit("set CREDIT_DATABASE_URL to migrate the credit database")


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
