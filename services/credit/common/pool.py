"""The read path's own asyncpg pool (checks and unit reads: no ORM session per call). One pool per
process, made lazily."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Annotated

import asyncpg
from fastapi import Depends, Request

from services.credit.deps import ContextDep

_lock = asyncio.Lock()


async def read_pool(request: Request, ctx: ContextDep) -> asyncpg.Pool:
    pool: asyncpg.Pool | None = getattr(request.app.state, "check_pool", None)
    if pool is None:
        async with _lock:
            pool = getattr(request.app.state, "check_pool", None)
            if pool is None:
                dsn = ctx.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
                size = ctx.settings.db_pool_size
                pool = await asyncpg.create_pool(
                    dsn,
                    min_size=1,
                    max_size=size,
                    statement_cache_size=256,
                    # short, planned-once statements: JIT compilation would cost more than it saves
                    server_settings={"application_name": "credit-checks", "jit": "off"},
                    # the read path never changes session state (no SET, LISTEN or advisory locks), so
                    # the round trip that resets a connection on every release is skipped
                    reset=_keep_session,
                )
                request.app.state.check_pool = pool
    return pool


async def _keep_session(connection: asyncpg.Connection) -> None:
    return None


async def get_check_conn(request: Request, ctx: ContextDep) -> AsyncIterator[asyncpg.Connection]:
    pool = await read_pool(request, ctx)
    async with pool.acquire() as conn:
        yield conn  # type: ignore[misc]  # a pool proxy behaves as the connection


CheckConn = Annotated[asyncpg.Connection, Depends(get_check_conn)]


async def get_readers(request: Request, ctx: ContextDep) -> asyncpg.Pool | None:
    """The read pool, for work that reads on several connections at once (a batch of checks); none
    where the application's dependency overrides replace the read connection (one connection then)."""
    if get_check_conn in request.app.dependency_overrides:
        return None
    return await read_pool(request, ctx)


Readers = Annotated[asyncpg.Pool | None, Depends(get_readers)]


@contextlib.asynccontextmanager
async def read_connection(request: Request) -> AsyncIterator[asyncpg.Connection]:
    """`CheckConn` for the hot path, which resolves dependencies by hand: the read pool's
    connection, or whatever the application's dependency overrides put in its place."""
    override = request.app.dependency_overrides.get(get_check_conn)
    if override is not None:
        async with contextlib.asynccontextmanager(override)() as conn:
            yield conn
        return
    pool = await read_pool(request, request.app.state.ctx)
    async with pool.acquire() as conn:
        yield conn  # type: ignore[misc]  # a pool proxy behaves as the connection


async def close_pool(state: object) -> None:
    pool: asyncpg.Pool | None = getattr(state, "check_pool", None)
    if pool is not None:
        await pool.close()
