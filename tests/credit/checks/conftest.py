"""Check-path fixtures: the check endpoints' asyncpg connection is the test's own connection (so they
see the test's uncommitted data), and a clock that travels in time without patching."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.credit.calendar import service as calendar_service
from services.credit.common.pool import get_check_conn
from services.credit.context import CreditContext
from tests.credit.factories import unit_body


@pytest.fixture
def credit_app(credit_app: FastAPI, db_conn: AsyncConnection) -> FastAPI:
    async def test_conn() -> AsyncIterator[asyncpg.Connection]:
        raw = await db_conn.get_raw_connection()
        conn = raw.driver_connection
        assert isinstance(conn, asyncpg.Connection)
        yield conn

    credit_app.dependency_overrides[get_check_conn] = test_conn
    return credit_app


class Clock:
    def __init__(self, ctx: CreditContext) -> None:
        self.ctx = ctx
        self.day = dt.date(2026, 11, 28)

    def set(self, day: dt.date) -> None:
        self.day = day
        self.ctx.today = lambda: self.day
        self.ctx.now = lambda: dt.datetime.combine(self.day, dt.time(4, 0), tzinfo=dt.UTC)


@pytest.fixture
def clock(credit_ctx: CreditContext) -> Iterator[Clock]:
    saved: tuple[Callable[[], Any], Callable[[], Any]] = (credit_ctx.today, credit_ctx.now)
    c = Clock(credit_ctx)
    yield c
    credit_ctx.today, credit_ctx.now = saved


@pytest.fixture
async def session(db_conn: AsyncConnection) -> AsyncIterator[AsyncSession]:
    """A session inside the test transaction, for calling jobs (nightly, drain) directly."""
    async with AsyncSession(
        bind=db_conn, join_transaction_mode="create_savepoint", expire_on_commit=False
    ) as s:
        yield s


@pytest.fixture(autouse=True)
def fresh_calendar() -> None:
    calendar_service.invalidate()


# --- setup through the core's API -------------------------------------------------------------------

SETUP_SCOPES = ("records:write", "records:read", "units:write", "units:read")


async def seed_unit(client: httpx.AsyncClient, auth: Any, **kw: Any) -> str:
    body = unit_body(**kw)
    r = await client.post("/v1/units", json=body, headers=auth(*SETUP_SCOPES))
    assert r.status_code == 201, r.text
    return str(body["uscc"])


async def seed_record(client: httpx.AsyncClient, auth: Any, body: dict[str, Any]) -> str:
    r = await client.post("/v1/records", json=body, headers=auth(*SETUP_SCOPES))
    assert r.status_code == 201, r.text
    return str(r.json()["id"])
