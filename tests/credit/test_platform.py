"""Start-up, health, request ids, tokens, settings and migrations."""

from __future__ import annotations

import pathlib

import httpx
import psycopg
import pytest
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.credit.clients import service as clients
from services.credit.context import CreditContext
from services.credit.policy.model import add_duration, load_policy
from services.credit.settings import CreditSettings
from services.kit import migrate
from tests.conftest import drop_database, fresh_database
from tests.credit.conftest import TokenFactory


def test_migrations_upgrade_downgrade_upgrade_on_an_empty_database(pg_server_url: str) -> None:
    url = fresh_database(pg_server_url, "credit_migrations")
    try:
        migrate.upgrade("credit", url)
        head = migrate.head_revision("credit", url)
        assert migrate.current_revision("credit", url, "credit") == head
        migrate.downgrade("credit", url, "base")
        assert migrate.current_revision("credit", url, "credit") is None
        with psycopg.connect(url) as conn:
            left = conn.execute(
                "select count(*) from pg_tables where schemaname = 'credit' and tablename <> 'alembic_version'"
            ).fetchone()
        assert left == (0,)
        migrate.upgrade("credit", url)
        assert migrate.current_revision("credit", url, "credit") == head
    finally:
        drop_database(pg_server_url, url)


async def test_health_ready_and_request_id(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["migration"] is not None
    echoed = await client.get("/healthz", headers={"X-Request-ID": "land-case-2026-0042"})
    assert echoed.headers["x-request-id"] == "land-case-2026-0042"
    generated = await client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert generated.headers["x-request-id"] != "bad id with spaces"
    assert len(generated.headers["x-request-id"]) == 32
    assert "server" not in generated.headers


async def test_client_credentials_token_flow(
    client: httpx.AsyncClient, credit_ctx: CreditContext, db_conn: object
) -> None:
    async with AsyncSession(bind=db_conn, join_transaction_mode="create_savepoint") as session:  # type: ignore[arg-type]
        secret = await clients.create_client(
            session,
            client_id="land-bureau-test",
            name="延吉市自然资源局",
            department="yanji-land",
            scopes=["units:read", "records:read"],
        )
        await session.commit()
    form = {"grant_type": "client_credentials", "client_id": "land-bureau-test", "client_secret": secret}
    issued = await client.post("/v1/oauth/token", data=form)
    assert issued.status_code == 200, issued.text
    assert issued.json()["scope"] == "records:read units:read"
    token = issued.json()["access_token"]
    principal = credit_ctx.tokens.verify(token)
    assert principal.department == "yanji-land"
    wrong = await client.post("/v1/oauth/token", data={**form, "client_secret": "guess"})
    assert wrong.status_code == 401
    assert wrong.headers["content-type"] == "application/problem+json"
    escalate = await client.post("/v1/oauth/token", data={**form, "scope": "units:read pii:read"})
    assert escalate.status_code == 403
    narrower = await client.post("/v1/oauth/token", data={**form, "scope": "units:read"})
    assert narrower.json()["scope"] == "units:read"
    jwks = (await client.get("/v1/oauth/jwks")).json()
    assert jwks["keys"]
    assert all("d" not in k for k in jwks["keys"])


async def test_tampered_and_foreign_tokens_are_refused(client: httpx.AsyncClient, auth: TokenFactory) -> None:
    good = auth("units:read")["Authorization"]
    header, payload, signature = good.removeprefix("Bearer ").split(".")
    tampered = f"Bearer {header}.{payload}.{signature[:-4]}AAAA"
    none_alg = "Bearer eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + payload + "."
    for bad in (tampered, none_alg, "Bearer not-a-jwt", "Basic dXNlcjpwYXNz"):
        answer = await client.get("/v1/units", headers={"Authorization": bad})
        assert answer.status_code == 401, bad


def test_production_refuses_development_defaults(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ValidationError) as refused:
        CreditSettings(mode="production", data_dir=tmp_path)
    message = str(refused.value)
    assert "CREDIT_DATABASE_URL" in message
    assert "CREDIT_SIGNING_KEYS_FILE" in message
    assert "CREDIT_PII_KEY" in message


def test_policy_file_is_validated(tmp_path: pathlib.Path) -> None:
    broken = tmp_path / "policy.toml"
    source = (pathlib.Path(load_policy.__code__.co_filename).with_name("default.toml")).read_text(encoding="utf-8")
    broken.write_text(source.replace('min = "P3M"', 'min = "three months"'), encoding="utf-8")
    with pytest.raises(ValidationError):
        load_policy(broken)
    assert load_policy().version


def test_calendar_arithmetic_clamps_month_ends() -> None:
    import datetime as dt

    assert add_duration(dt.date(2024, 2, 29), "P1Y") == dt.date(2025, 2, 28)
    assert add_duration(dt.date(2026, 8, 31), "P3M") == dt.date(2026, 11, 30)
    assert add_duration(dt.date(2026, 1, 1), "P5Y") == dt.date(2031, 1, 1)


async def test_docs_are_served_locally(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert "/docs-assets/swagger-ui-bundle.js" in page.text
    assert (await client.get("/docs-assets/swagger-ui-bundle.js")).status_code == 200
