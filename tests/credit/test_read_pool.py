"""The read path's pool on real connections: a cap, waiters served in turn, broken and cancelled
connections dropped rather than handed out again, nothing lost when a waiter gives up."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from services.credit.common.pool import ReadPool


@pytest.fixture
async def pool(credit_db_url: str) -> AsyncIterator[ReadPool]:
    p = ReadPool(credit_db_url.replace("postgresql+psycopg://", "postgresql://"), max_size=2)
    yield p
    await p.close()


async def backend(conn: asyncpg.Connection) -> int:
    pid: int = await conn.fetchval("SELECT pg_backend_pid()")
    return pid


async def test_connections_are_reused_and_capped(pool: ReadPool) -> None:
    async with pool.acquire() as a:
        first = await backend(a)
    async with pool.acquire() as b:
        assert await backend(b) == first  # the idle one again, no new connection

    held = asyncio.Event()
    done = asyncio.Event()

    async def hold() -> None:
        async with pool.acquire() as c:
            await c.fetchval("SELECT 1")
            held.set()
            await done.wait()

    holders = [asyncio.create_task(hold()) for _ in range(2)]
    await held.wait()
    third = asyncio.create_task(pool_backend(pool))
    await asyncio.sleep(0.05)
    assert not third.done(), "a third caller waits while both connections are out"
    done.set()
    await asyncio.gather(*holders)
    assert await third > 0
    assert pool._size == 2


async def pool_backend(pool: ReadPool) -> int:
    async with pool.acquire() as conn:
        return await backend(conn)


async def test_a_broken_connection_is_dropped_and_replaced(pool: ReadPool, credit_db_url: str) -> None:
    async with pool.acquire() as conn:
        victim = await backend(conn)
    killer = await asyncpg.connect(credit_db_url.replace("postgresql+psycopg://", "postgresql://"))
    try:
        await killer.execute("SELECT pg_terminate_backend($1)", victim)
    finally:
        await killer.close()
    # the pool either sees the connection closed before handing it out, or the query fails on it
    await asyncio.sleep(0.1)
    failed: BaseException | None = None
    try:
        async with pool.acquire() as conn:
            assert await backend(conn) != victim
    except Exception as exc:  # whichever way the driver reports it
        failed = exc
    assert failed is None or isinstance(failed, OSError) or type(failed).__module__.startswith("asyncpg"), failed
    async with pool.acquire() as conn:
        assert await backend(conn) != victim
    assert pool._size == 1


async def test_a_query_cancelled_mid_way_does_not_come_back(pool: ReadPool) -> None:
    async with pool.acquire() as conn:
        first = await backend(conn)

    async def slow() -> None:
        async with pool.acquire() as conn:
            await conn.execute("SELECT pg_sleep(5)")

    task = asyncio.create_task(slow())
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with pool.acquire() as conn:
        assert await backend(conn) != first
        assert await conn.fetchval("SELECT 1") == 1


async def test_a_waiter_that_gives_up_loses_nothing(pool: ReadPool) -> None:
    release = asyncio.Event()

    async def hold() -> None:
        async with pool.acquire():
            await release.wait()

    holders = [asyncio.create_task(hold()) for _ in range(2)]
    await asyncio.sleep(0.1)
    impatient = asyncio.create_task(pool_backend(pool))
    await asyncio.sleep(0.05)
    impatient.cancel()
    release.set()
    await asyncio.gather(*holders)
    with pytest.raises(asyncio.CancelledError):
        await impatient
    # both connections are still there to be had
    await asyncio.wait_for(asyncio.gather(pool_backend(pool), pool_backend(pool)), 5)
    assert pool._size == 2
    assert len(pool._idle) == 2
