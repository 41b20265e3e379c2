"""Storing checks. A batch of checks read in chunks on several pool connections at once (as the service runs it)
answers exactly what the one-connection path answers, stores every answer in one transaction, and
stores nothing when a chunk fails. Single checks of the same moment share one commit, and none is
answered before it is stored."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

import asyncpg
import orjson
import pytest

from bench.checks.load import UNITS_SQL
from services.credit.checks import repository as repo
from services.credit.checks import service
from services.credit.common.pool import ReadPool
from services.credit.measures.catalogue import default_catalogue
from services.credit.policy.checks_model import default_checks_policy
from services.kit import migrate
from services.kit.groupcommit import GroupWriter
from tests.conftest import drop_database, fresh_database

UNITS = 40
FRESH = {"id", "verification_code", "created_at", "as_of", "batch_id"}


@pytest.fixture(scope="module")
def batch_db(pg_server_url: str) -> Iterator[str]:
    url = fresh_database(pg_server_url, "credit_batch")
    migrate.upgrade("credit", url)
    yield url
    drop_database(pg_server_url, url)


@pytest.fixture
async def pool(batch_db: str) -> AsyncIterator[ReadPool]:
    p = ReadPool(batch_db.replace("postgresql+psycopg://", "postgresql://"), max_size=4)
    async with p.acquire() as conn:
        await conn.execute("TRUNCATE credit.units CASCADE")
        await conn.execute(UNITS_SQL.format(units=UNITS))
    yield p
    await p.close()


def _uscc(i: int) -> str:
    return f"91222401{i:09d}X"


def _strip(answer: bytes) -> dict[str, Any]:
    return {k: v for k, v in orjson.loads(answer).items() if k not in FRESH}


async def _batch(pool: ReadPool, usccs: list[str], *, parallel: bool) -> tuple[Any, list[bytes], int]:
    req = service.CheckRequest("", "financial_support", "LOAN-7", "贷款审查", "李", "bank", "bank-1", False)
    async with pool.acquire() as conn:
        return await service.check_many(
            conn,
            req,
            usccs,
            today=dt.date(2026, 11, 30),
            policy=default_checks_policy(),
            catalogue=default_catalogue(),
            readers=pool if parallel else None,
        )


async def test_parallel_chunks_answer_as_one_connection_does(pool: ReadPool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "READ_CHUNK", 7)
    monkeypatch.setattr(service, "YIELD_EVERY", 3)
    wanted = [_uscc(i) for i in range(UNITS, 0, -1)] + ["91222401999999999X", _uscc(5), _uscc(6)]
    batch_id, answers, duplicates = await _batch(pool, wanted, parallel=True)
    _, sequential, _ = await _batch(pool, wanted, parallel=False)
    assert duplicates == 2
    assert len(answers) == UNITS + 1
    assert [orjson.loads(a)["uscc"] for a in answers] == list(dict.fromkeys(wanted))  # in order of asking
    assert [_strip(a) for a in answers] == [_strip(a) for a in sequential]
    assert orjson.loads(answers[-1])["result"] == "unknown"
    async with pool.acquire() as conn:
        stored = await conn.fetch("SELECT id, answer::text AS answer FROM credit.checks WHERE batch_id = $1", batch_id)
    by_id = {str(r["id"]): r["answer"].encode() for r in stored}
    assert by_id == {orjson.loads(a)["id"]: a for a in answers}


async def test_a_failing_chunk_stores_nothing_of_the_batch(pool: ReadPool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "READ_CHUNK", 5)
    real = repo.units_facts
    calls = 0

    async def flaky(conn: asyncpg.Connection, usccs: list[str]) -> list[asyncpg.Record]:
        nonlocal calls
        calls += 1
        if calls == 4:
            raise RuntimeError("connection lost")
        return await real(conn, usccs)

    monkeypatch.setattr(repo, "units_facts", flaky)
    async with pool.acquire() as conn:
        before = await conn.fetchval("SELECT count(*) FROM credit.checks")
    with pytest.raises(RuntimeError, match="connection lost"):
        await _batch(pool, [_uscc(i) for i in range(1, UNITS + 1)], parallel=True)
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM credit.checks") == before


async def test_single_checks_of_one_moment_are_stored_together_before_they_are_answered(
    pool: ReadPool, batch_db: str
) -> None:
    dsn = batch_db.replace("postgresql+psycopg://", "postgresql://")
    writer: GroupWriter[tuple[Any, ...]] = GroupWriter(dsn, repo.insert_check_group, application_name="test-checks")
    req = service.CheckRequest("", "land_use_approval", "延自然资〔2026〕9号", "出让", "王", "land", "land-1", False)

    async def one(i: int) -> tuple[Any, bytes]:
        async with pool.acquire() as conn:
            return await service.check_one(
                conn,
                replace(req, uscc=_uscc(i)),
                today=dt.date(2026, 11, 30),
                policy=default_checks_policy(),
                catalogue=default_catalogue(),
                writer=writer,
            )

    try:
        answered = await asyncio.gather(*(one(i) for i in range(1, 21)))
    finally:
        await writer.close()
    async with pool.acquire() as conn:
        stored = await conn.fetch(
            "SELECT id, answer::text AS answer FROM credit.checks WHERE id = ANY($1::uuid[])", [a[0] for a in answered]
        )
    assert {r["id"]: r["answer"].encode() for r in stored} == dict(answered)

    gone: GroupWriter[tuple[Any, ...]] = GroupWriter(
        "postgresql://nobody@127.0.0.1:1/none", repo.insert_check_group, application_name="test-checks"
    )
    with pytest.raises(OSError):  # a check that could not be stored is not answered
        await _check_with(gone, pool, req)
    await gone.close()


async def _check_with(writer: GroupWriter[tuple[Any, ...]], pool: ReadPool, req: service.CheckRequest) -> Any:
    async with pool.acquire() as conn:
        return await service.check_one(
            conn,
            replace(req, uscc=_uscc(2)),
            today=dt.date(2026, 11, 30),
            policy=default_checks_policy(),
            catalogue=default_catalogue(),
            writer=writer,
        )
