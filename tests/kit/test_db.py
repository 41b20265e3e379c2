"""Every connection the services open runs without JIT compilation (see `kit.db.SERVER_SETTINGS`)."""

from __future__ import annotations

import asyncpg
import psycopg
from sqlalchemy import text

from services.kit.db import LIBPQ_OPTIONS, SERVER_SETTINGS, make_engine, sync_url
from services.sharing.ingest import repository as sharing_repo


def _plain(url: str) -> str:
    return sync_url(url).replace("postgresql+psycopg://", "postgresql://")


async def test_the_service_engine_turns_jit_off(pg_server_url: str) -> None:
    engine = make_engine(pg_server_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("SHOW jit"))).scalar_one() == "off"
    finally:
        await engine.dispose()


async def test_driver_connections_take_the_same_settings(pg_server_url: str) -> None:
    conn = await asyncpg.connect(_plain(pg_server_url), server_settings=SERVER_SETTINGS)
    try:
        assert await conn.fetchval("SHOW jit") == "off"
    finally:
        await conn.close()
    with psycopg.connect(_plain(pg_server_url), options=LIBPQ_OPTIONS) as plain:
        assert plain.execute("SHOW jit").fetchone() == ("off",)


def test_the_ingest_job_connects_without_jit_in_autocommit(pg_server_url: str) -> None:
    with sharing_repo.connect(_plain(pg_server_url), "test") as conn:
        assert conn.autocommit
        assert conn.execute("SHOW jit").fetchone() == ("off",)
        assert conn.execute("SHOW application_name").fetchone() == ("test",)
