"""The read path's own connection pool (checks and unit reads: no ORM session per call). One pool per
process, made lazily."""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Request

from services.credit.deps import ContextDep
from services.kit.db import SERVER_SETTINGS
from services.kit.groupcommit import GroupWriter

_lock = asyncio.Lock()


def _unfit(failed: BaseException | None) -> bool:
    """A connection in use when the database, the driver or the network failed, or when its caller
    was cancelled, may be half way through a protocol exchange: it is closed, not handed out again.
    (The read path's own errors, such as an unknown unit, leave it as good as it was.)"""
    if failed is None:
        return False
    return isinstance(failed, (asyncio.CancelledError, OSError)) or type(failed).__module__.startswith("asyncpg")


class ReadPool:
    """A lean pool for the read path: idle connections on a stack, waiters in a queue. asyncpg's own
    pool spends more CPU on each acquire and release (a shielded task, a timeout) than a unit read
    spends on its query. Connections are opened on demand up to `max_size`; one that failed or
    was cancelled in use is closed, not reused. The read path never changes session state (no SET,
    LISTEN or advisory locks; transactions end before release), so nothing is reset on release."""

    def __init__(self, dsn: str, max_size: int) -> None:
        self.dsn = dsn
        self.max_size = max_size
        self._idle: list[asyncpg.Connection] = []
        self._waiters: collections.deque[asyncio.Future[asyncpg.Connection | None]] = collections.deque()
        self._size = 0
        self._closed = False

    async def _open(self) -> asyncpg.Connection:
        self._size += 1
        try:
            conn: asyncpg.Connection = await asyncpg.connect(
                self.dsn,
                statement_cache_size=256,
                # short, planned-once statements: JIT compilation would cost more than it saves
                server_settings={**SERVER_SETTINGS, "application_name": "credit-checks"},
            )
        except BaseException:
            self._size -= 1
            self._wake(None)
            raise
        return conn

    async def _take(self) -> asyncpg.Connection:
        if self._closed:
            raise asyncpg.InterfaceError("the read pool is closed")
        while self._idle:
            conn = self._idle.pop()
            if not conn.is_closed():
                return conn
            self._size -= 1
        if self._size < self.max_size:
            return await self._open()
        waiter: asyncio.Future[asyncpg.Connection | None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            handed = await waiter
        except asyncio.CancelledError:
            # handed a connection (or a free place) just as the caller gave up: pass it on
            if waiter.done() and not waiter.cancelled():
                given = waiter.result()
                if given is not None:
                    self._give_back(given, None)
                else:
                    self._wake(None)
            raise
        # None: a place came free (a connection was dropped), open one in it
        return handed if handed is not None else await self._open()

    def _wake(self, conn: asyncpg.Connection | None) -> bool:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return True
        return False

    def _give_back(self, conn: asyncpg.Connection, failed: BaseException | None) -> None:
        if _unfit(failed) or conn.is_closed() or self._closed:
            conn.terminate()
            self._size -= 1
            self._wake(None)
        elif not self._wake(conn):
            self._idle.append(conn)

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[asyncpg.Connection]:
        conn = await self._take()
        try:
            yield conn
        except BaseException as exc:
            self._give_back(conn, exc)
            raise
        self._give_back(conn, None)

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            self._size -= 1
            await conn.close(timeout=2)
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(asyncpg.InterfaceError("the read pool is closed"))


async def read_pool(request: Request, ctx: ContextDep) -> ReadPool:
    pool: ReadPool | None = getattr(request.app.state, "check_pool", None)
    if pool is None:
        async with _lock:
            pool = getattr(request.app.state, "check_pool", None)
            if pool is None:
                dsn = ctx.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
                pool = ReadPool(dsn, ctx.settings.db_pool_size)
                request.app.state.check_pool = pool
    return pool


async def get_check_conn(request: Request, ctx: ContextDep) -> AsyncIterator[asyncpg.Connection]:
    pool = await read_pool(request, ctx)
    async with pool.acquire() as conn:
        yield conn


CheckConn = Annotated[asyncpg.Connection, Depends(get_check_conn)]


def _replaced_read_connection(request: Request) -> Callable[[], AsyncIterator[asyncpg.Connection]] | None:
    """What the application's dependency overrides put in place of `CheckConn`, if anything (tests
    give their own transaction's connection): the hot path and the pool-wide work then use it alone."""
    override: Callable[[], AsyncIterator[asyncpg.Connection]] | None = request.app.dependency_overrides.get(
        get_check_conn
    )
    return override


async def get_readers(request: Request, ctx: ContextDep) -> ReadPool | None:
    """The read pool, for work that reads on several connections at once (a batch of checks); none
    where the application's dependency overrides replace the read connection (one connection then)."""
    if _replaced_read_connection(request) is not None:
        return None
    return await read_pool(request, ctx)


Readers = Annotated[ReadPool | None, Depends(get_readers)]


async def get_check_writer(request: Request) -> GroupWriter[tuple[Any, ...]] | None:
    """The group writer of single checks; none where the dependency overrides replace the read
    connection (the check is then stored on that connection)."""
    if _replaced_read_connection(request) is not None:
        return None
    writer: GroupWriter[tuple[Any, ...]] | None = getattr(request.app.state, "check_writer", None)
    return writer


CheckWriter = Annotated[GroupWriter[tuple[Any, ...]] | None, Depends(get_check_writer)]


@contextlib.asynccontextmanager
async def read_connection(request: Request) -> AsyncIterator[asyncpg.Connection]:
    """`CheckConn` for the hot path, which resolves dependencies by hand: the read pool's
    connection, or whatever the application's dependency overrides put in its place."""
    override = _replaced_read_connection(request)
    if override is not None:
        async with contextlib.asynccontextmanager(override)() as conn:
            yield conn
        return
    pool = await read_pool(request, request.app.state.ctx)
    async with pool.acquire() as conn:
        yield conn


async def close_pool(state: object) -> None:
    pool: ReadPool | None = getattr(state, "check_pool", None)
    if pool is not None:
        await pool.close()
