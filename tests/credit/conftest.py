"""credit fixtures: one migrated database per test session; each test runs inside a transaction
that is rolled back, while the app's own commits become savepoint releases."""

from __future__ import annotations

import os
import pathlib
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.credit.app import build_context, create_app
from services.credit.common.pool import close_pool, get_check_conn
from services.credit.context import CreditContext
from services.credit.deps import get_session
from services.credit.settings import CreditSettings
from services.kit import migrate
from services.kit.auth import TokenService, ensure_dev_keyset
from tests.conftest import drop_database, fresh_database

TEST_PII_KEY = "test-pii-key-0123456789abcdef0123456789"


@pytest.fixture(scope="session")
def credit_db_url(pg_server_url: str) -> Iterator[str]:
    url = fresh_database(pg_server_url, "credit_test")
    migrate.upgrade("credit", url)
    yield url
    drop_database(pg_server_url, url)


@pytest.fixture(scope="session")
def credit_settings(credit_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> CreditSettings:
    data_dir: pathlib.Path = tmp_path_factory.mktemp("credit-data")
    return CreditSettings(mode="development", database_url=credit_db_url, data_dir=data_dir, pii_key=TEST_PII_KEY)


@pytest.fixture(scope="session")
async def credit_ctx(credit_settings: CreditSettings, credit_db_url: str) -> AsyncIterator[CreditContext]:
    ctx = build_context(credit_settings, credit_db_url)
    yield ctx
    await ctx.engine.dispose()


@pytest.fixture
async def db_conn(credit_ctx: CreditContext) -> AsyncIterator[AsyncConnection]:
    async with credit_ctx.engine.connect() as conn:
        outer = await conn.begin()
        yield conn
        await outer.rollback()


@pytest.fixture
async def credit_app(credit_ctx: CreditContext, db_conn: AsyncConnection) -> AsyncIterator[FastAPI]:
    app = create_app(context=credit_ctx)

    async def session_in_test_transaction() -> AsyncIterator[AsyncSession]:
        async with AsyncSession(
            bind=db_conn, join_transaction_mode="create_savepoint", expire_on_commit=False
        ) as session:
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise
            else:
                await session.commit()

    async def read_connection_in_test_transaction() -> AsyncIterator[asyncpg.Connection]:
        raw = await db_conn.get_raw_connection()
        conn = raw.driver_connection
        assert isinstance(conn, asyncpg.Connection)
        yield conn

    app.dependency_overrides[get_session] = session_in_test_transaction
    # the read pool answers from the test's own connection, so it sees the test's uncommitted data
    app.dependency_overrides[get_check_conn] = read_connection_in_test_transaction
    yield app
    await close_pool(app.state)
    await app.state.audit_writer.close()


@pytest.fixture
async def client(credit_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=credit_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://credit.test") as c:
        yield c


TokenFactory = Callable[..., dict[str, str]]


@pytest.fixture
def auth(credit_ctx: CreditContext) -> TokenFactory:
    """auth("units:read", "pii:read", department="fire-yanji") -> Authorization header."""

    def make(*scopes: str, department: str = "yanbian-fire", client_id: str = "test-client") -> dict[str, str]:
        token, _ = credit_ctx.tokens.issue(client_id=client_id, department=department, scopes=list(scopes))
        return {"Authorization": f"Bearer {token}"}

    return make


@dataclass
class LiveCredit:
    base_url: str
    tokens: TokenService

    def headers(self, *scopes: str, department: str = "yanbian-fire") -> dict[str, str]:
        token, _ = self.tokens.issue(client_id="live-test", department=department, scopes=list(scopes))
        return {"Authorization": f"Bearer {token}"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def live_credit(pg_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveCredit]:
    """A real uvicorn process on its own migrated database, for fuzzing over HTTP."""
    url = fresh_database(pg_server_url, "credit_live")
    migrate.upgrade("credit", url)
    data_dir = tmp_path_factory.mktemp("credit-live")
    keys = ensure_dev_keyset(data_dir / "credit-signing-keys.json")
    port = _free_port()
    env = {
        **os.environ,
        "CREDIT_DATABASE_URL": url,
        "CREDIT_DATA_DIR": str(data_dir),
        "CREDIT_PII_KEY": TEST_PII_KEY,
        "CREDIT_LOG_LEVEL": "WARNING",
    }
    log = (data_dir / "server.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "services.credit.app:create_app",
            "--factory",
            "--port",
            str(port),
            "--no-server-header",
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    settings = CreditSettings(database_url=url, data_dir=data_dir, pii_key=TEST_PII_KEY)
    live = LiveCredit(base, TokenService(keys=keys, issuer=settings.issuer, audience=settings.audience))
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"credit did not start: {(data_dir / 'server.log').read_text()}")
            time.sleep(0.2)
        yield live
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()
        drop_database(pg_server_url, url)
