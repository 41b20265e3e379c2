"""Run a service's alembic chain from code (start-up, tests, the demo command)."""

from __future__ import annotations

import pathlib

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from services.kit.db import sync_url

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]


def alembic_config(service: str, database_url: str) -> Config:
    cfg = Config(str(REPO_ROOT / "alembic.ini"), ini_section=service)
    cfg.set_main_option("script_location", str(REPO_ROOT / "migrations" / service))
    cfg.attributes["database_url"] = database_url
    return cfg


def upgrade(service: str, database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(service, database_url), revision)


def downgrade(service: str, database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(service, database_url), revision)


def head_revision(service: str, database_url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(service, database_url)).get_current_head()


def current_revision(service: str, database_url: str, schema: str) -> str | None:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            conn.execute(text(f"SET search_path TO {schema}"))
            return MigrationContext.configure(conn, opts={"version_table_schema": schema}).get_current_revision()
    finally:
        engine.dispose()
