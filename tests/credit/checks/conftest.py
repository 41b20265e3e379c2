"""Check-path fixtures: the check endpoints' asyncpg connection is the test's own connection (so they
see the test's uncommitted data), and a clock that travels in time without patching."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import asyncpg
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.credit.calendar import service as calendar_service
from services.credit.checks.pool import get_check_conn
from services.credit.context import CreditContext


@pytest.fixture
async def client(client: httpx.AsyncClient, db_conn: AsyncConnection) -> httpx.AsyncClient:
    client._test_conn = db_conn  # type: ignore[attr-defined]
    return client


@pytest.fixture
def credit_app(credit_app: FastAPI, db_conn: AsyncConnection) -> FastAPI:
    async def test_conn() -> AsyncIterator[asyncpg.Connection]:
        raw = await db_conn.get_raw_connection()
        yield raw.driver_connection

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
    async with AsyncSession(bind=db_conn, join_transaction_mode="create_savepoint", expire_on_commit=False) as s:
        yield s


@pytest.fixture(autouse=True)
def fresh_calendar() -> None:
    calendar_service.invalidate()


# --- setup through the core's API when it answers, otherwise straight into its tables ---------------

import hashlib  # noqa: E402
import uuid  # noqa: E402

import httpx  # noqa: E402
import orjson  # noqa: E402
from sqlalchemy import text  # noqa: E402

from services.credit.grades import hooks  # noqa: E402
from services.credit.policy.model import add_duration, default_policy  # noqa: E402
from tests.credit.factories import unit_body  # noqa: E402

SETUP_SCOPES = ("records:write", "records:read", "units:write", "units:read")


async def seed_unit(client: httpx.AsyncClient, auth: Any, **kw: Any) -> str:
    body = unit_body(**kw)
    r = await client.post("/v1/units", json=body, headers=auth(*SETUP_SCOPES))
    if r.status_code == 201:
        return str(body["uscc"])
    async with AsyncSession(bind=_conn(client), join_transaction_mode="create_savepoint") as s:
        await s.execute(text(
            "INSERT INTO credit.units (uscc, name, unit_type, fire_class, reg_status, region_code, content_hash, "
            "updated_by) VALUES (:uscc, :name, :unit_type, :fire_class, :reg_status, :region_code, :h, 'test')"),
            {k: body[k] for k in ("uscc", "name", "unit_type", "fire_class", "reg_status", "region_code")}
            | {"h": b"x"})
        await s.commit()
    return str(body["uscc"])


def _conn(client: httpx.AsyncClient) -> AsyncConnection:
    conn: AsyncConnection = client._test_conn  # type: ignore[attr-defined]
    return conn


async def seed_record(client: httpx.AsyncClient, auth: Any, session: AsyncSession, body: dict[str, Any], *,
                      today: dt.date) -> str:
    r = await client.post("/v1/records", json=body, headers=auth(*SETUP_SCOPES))
    if r.status_code == 201:
        return str(r.json()["id"])
    pub = default_policy().publication
    decided = dt.date.fromisoformat(body["decision_date"])
    period = pub.serious if body["severity"] == "serious" else pub.general
    rid = uuid.uuid4()
    unit_id = (await session.execute(text("SELECT id FROM credit.units WHERE uscc = :u"),
                                     {"u": body["unit_uscc"]})).scalar_one()
    await session.execute(text(
        "INSERT INTO credit.records (id, unit_id, uscc, department, record_type, document_no, version, state, "
        "severity, polarity, legal_basis, decision_date, conduct_ended_on, published, publish_min_until, "
        "publish_until, query_until, policy_version, body, request_hash, created_by) VALUES (:id, :unit_id, :uscc, "
        "'yanbian-fire', :type, :doc, 1, 'active', :severity, 'bad', :basis, :decided, :decided, true, :min_until, "
        ":until, :query_until, '2026.1', CAST(:body AS jsonb), :h, 'test')"),
        {"id": rid, "unit_id": unit_id, "uscc": body["unit_uscc"], "type": body["type"], "doc": body["document_no"],
         "severity": body["severity"], "basis": body["legal_basis"], "decided": decided,
         "min_until": add_duration(decided, period.min), "until": add_duration(decided, period.max),
         "query_until": add_duration(decided, pub.query_horizon),
         "body": orjson.dumps({"details": body["details"]}).decode(),
         "h": hashlib.sha256(orjson.dumps(body)).hexdigest()})
    await hooks.after_record_change(session, [unit_id], today=today, actor="test")
    await session.flush()
    return str(rid)
