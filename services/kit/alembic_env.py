"""The body of every service's alembic `env.py`: one schema per service, its version table inside it."""

from __future__ import annotations

import os
from typing import Any

from alembic import context
from sqlalchemy import MetaData, create_engine, text

from services.kit.db import sync_url


def run_online(*, schema: str, metadata: MetaData, url_variable: str) -> None:
    config = context.config
    url = config.attributes.get("database_url") or os.environ.get(url_variable)
    if not url:
        raise SystemExit(f"set {url_variable} to migrate the {schema} database")
    connectable = config.attributes.get("connection")
    if connectable is not None:
        _run(connectable, schema, metadata)
        return
    engine = create_engine(sync_url(url))
    with engine.begin() as connection:
        _run(connection, schema, metadata)
    engine.dispose()


def _run(connection: Any, schema: str, metadata: MetaData) -> None:
    connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table_schema=schema,
        include_schemas=False,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
