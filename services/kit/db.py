"""Database plumbing shared by the services: engines, the transaction-owning session dependency,
and the metadata naming convention that keeps alembic's constraint names stable."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import MetaData, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def service_metadata(schema: str) -> MetaData:
    return MetaData(schema=schema, naming_convention=NAMING_CONVENTION)


def async_url(url: str) -> str:
    """Accept `postgresql://` URLs from operators and use the asyncpg driver for the services."""
    for prefix in ("postgresql+psycopg://", "postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


def sync_url(url: str) -> str:
    """psycopg (v3) URL for alembic, COPY-based loaders and admin commands."""
    for prefix in ("postgresql+psycopg://", "postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


# The services' statements are short, set-based batches (a few thousand rows through `unnest`).
# Their estimated cost passes PostgreSQL's jit_above_cost, and compiling them took 150-350 ms per
# statement here, more than running them (credit's :import locking read: 400-600 ms with JIT,
# 240 ms without). Every connection of both services turns JIT off.
SERVER_SETTINGS: dict[str, str] = {"jit": "off"}
# the same for libpq connections (psycopg): `psycopg.connect(url, options=LIBPQ_OPTIONS)`
LIBPQ_OPTIONS = "-c jit=off"


def make_engine(url: str, *, pool_size: int = 10, **kwargs: Any) -> AsyncEngine:
    return create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=False,
        connect_args={
            "server_settings": {**SERVER_SETTINGS, "application_name": kwargs.pop("application_name", "fire-credit")}
        },
        **kwargs,
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def transactional_session(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One transaction per request: services flush, this commits on success and rolls back on error."""
    async with factory() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


async def driver_connection(session: AsyncSession) -> Any:
    """The asyncpg connection under the session's transaction, for COPY."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    if not driver.is_in_transaction():
        # SQLAlchemy begins lazily, on its first statement: make sure ours run inside that transaction
        await session.execute(text("SELECT 1"))
    return driver


def unnest_insert(table: str, columns: tuple[str, ...], types: dict[str, str]) -> str:
    """`INSERT INTO table (columns) SELECT * FROM unnest($1::type[], ...)`: many rows in one statement,
    one array per column (a column not in `types` is text). Built from constants, never from input."""
    arrays = ", ".join(f"${i}::{types.get(c, 'text')}[]" for i, c in enumerate(columns, start=1))
    return f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest({arrays})"  # noqa: S608
