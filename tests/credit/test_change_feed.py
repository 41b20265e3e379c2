"""The change feed under concurrent writers: a polling reader never misses or repeats an entry,
even when transactions commit in another order than they wrote (real separate connections)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text

from services.credit.app import create_app
from services.credit.context import CreditContext
from services.credit.units import service as units
from services.kit.auth import Principal
from tests.credit.factories import unit_body

WRITER = Principal(client_id="feed-writer", department="yanbian-market", scopes=frozenset({"units:write"}))


@pytest.fixture
async def committed_client(credit_ctx: CreditContext) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(context=credit_ctx)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://credit.test") as c:
        yield c
    await app.state.audit_writer.close()


async def _writer(ctx: CreditContext, seed: int, transactions: int, written: list[str]) -> None:
    rng = random.Random(seed)
    for _ in range(transactions):
        async with ctx.sessions() as session:
            items = [
                unit_body(name=f"汪清县林业测试单位{seed}-{rng.randrange(10**6)}") for _ in range(rng.randint(1, 4))
            ]
            await units.bulk_upsert(ctx, session, items, WRITER)
            # hold the transaction open for a while so later transactions commit first
            await asyncio.sleep(rng.random() * 0.03)
            if rng.random() < 0.15:
                await session.rollback()
                continue
            await session.commit()
            written.extend(i["uscc"] for i in items)


async def _start_cursor(client: httpx.AsyncClient, headers: dict[str, str]) -> str | None:
    cursor = None
    while True:
        page = (
            await client.get(
                "/v1/changes", params={"limit": 5000, **({"after": cursor} if cursor else {})}, headers=headers
            )
        ).json()
        cursor = page["next_cursor"]
        if not page["has_more"]:
            return cursor


@pytest.mark.slow
async def test_polling_reader_sees_every_committed_change_once(
    credit_ctx: CreditContext, committed_client: httpx.AsyncClient, auth: object
) -> None:
    headers = auth("records:read")  # type: ignore[operator]
    cursor = await _start_cursor(committed_client, headers)
    seen: list[int] = []
    written: list[str] = []
    writers = [asyncio.create_task(_writer(credit_ctx, seed, 12, written)) for seed in range(8)]

    async def poll_once() -> bool:
        nonlocal cursor
        params = {"limit": 7, **({"after": cursor} if cursor else {})}
        page = (await committed_client.get("/v1/changes", params=params, headers=headers)).json()
        seen.extend(item["id"] for item in page["items"])
        cursor = page["next_cursor"]
        return bool(page["items"])

    while not all(w.done() for w in writers):
        await poll_once()
        await asyncio.sleep(0.002)
    await asyncio.gather(*writers)
    async with credit_ctx.engine.connect() as conn:
        committed = (
            (
                await conn.execute(
                    text("SELECT id FROM credit.changes WHERE entity = 'unit' AND uscc = ANY(:u)"), {"u": written}
                )
            )
            .scalars()
            .all()
        )
    # entries become visible once every older transaction of the cluster has ended (other test
    # sessions may share the server): keep polling, bounded, until the reader has caught up
    deadline = asyncio.get_running_loop().time() + 60
    while not set(committed) <= set(seen) and asyncio.get_running_loop().time() < deadline:
        if not await poll_once():
            await asyncio.sleep(0.05)
    mine = [i for i in seen if i in set(committed)]
    assert len(committed) == len(written) > 50
    assert len(mine) == len(set(mine)), "an entry was delivered twice"
    assert set(mine) == set(committed), "an entry was missed"


async def test_bad_cursor_is_refused(committed_client: httpx.AsyncClient, auth: object) -> None:
    headers = auth("records:read")  # type: ignore[operator]
    bad = await committed_client.get("/v1/changes", params={"after": "dW5pdHM6MTo1"}, headers=headers)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "query.after"
