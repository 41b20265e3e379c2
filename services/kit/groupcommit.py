"""Group commit on a connection of its own. Each caller still waits until its own item is committed
(an answer that depends on the write is not released before it), but items that arrive while a
commit is in flight share the next one: one statement and one WAL flush per burst instead of one
per request."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import asyncpg

from services.kit.db import SERVER_SETTINGS

Item = TypeVar("Item")
STOPPING = "the service is stopping; the write was not made"


class GroupWriter(Generic[Item]):
    def __init__(
        self,
        dsn: str,
        write: Callable[[asyncpg.Connection, list[Item]], Awaitable[None]],
        *,
        application_name: str,
        max_batch: int = 1000,
    ) -> None:
        """`write(connection, items)` stores a group in one statement (its own transaction): all of
        the items or none of them."""
        self.dsn = dsn
        self.write = write
        self.application_name = application_name
        self.max_batch = max_batch
        # one connection: the writer is a single task, so it never needs more
        self._conn: asyncpg.Connection | None = None
        self._pending: list[tuple[Item, asyncio.Future[None]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    async def record(self, item: Item) -> None:
        """Returns once the item is committed; raises if it could not be."""
        if self._closed:
            raise RuntimeError(STOPPING)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((item, done))
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        await done

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
                try:
                    await self._write([item for item, _ in batch])
                except asyncio.CancelledError:
                    for _, done in batch:
                        if not done.done():
                            done.set_exception(RuntimeError(STOPPING))
                    raise
                except Exception as exc:
                    for _, done in batch:
                        if not done.done():
                            done.set_exception(exc)
                else:
                    for _, done in batch:
                        if not done.done():
                            done.set_result(None)

    async def _write(self, items: list[Item]) -> None:
        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(
                self.dsn, server_settings={**SERVER_SETTINGS, "application_name": self.application_name}
            )
        try:
            await self.write(self._conn, items)
        except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError):
            await self._conn.close(timeout=1)
            self._conn = None
            raise

    async def close(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        # callers still waiting for their write are refused rather than left hanging
        pending, self._pending = self._pending, []
        for _, done in pending:
            if not done.done():
                done.set_exception(RuntimeError(STOPPING))
        if self._conn is not None:
            await self._conn.close(timeout=2)
            self._conn = None
