"""Audit trail: every API request leaves an entry; the SM3 chain shows edits, deletions and
reordering; exports for a case; rate limits, key rotation and revocation."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import pathlib
from collections.abc import AsyncIterator
from urllib.parse import quote

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from joserfc.jwk import KeySet

from services.credit.app import build_context, housekeeping
from services.credit.audit import chain
from services.credit.audit import service as audit
from services.credit.clients import service as clients
from services.credit.context import CreditContext
from services.credit.settings import CreditSettings
from services.kit import migrate
from services.kit.auth import generate_key, load_keyset, write_keyset
from services.kit.ratelimit import RateLimiter
from tests.conftest import drop_database, fresh_database
from tests.credit.conftest import TEST_PII_KEY, TokenFactory
from tests.credit.factories import citizen_id, unit_body


def _entries(url: str, case: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT client_id, department, user_id, case_id, operation, status, subject_uscc, result_digest, request_id"
            " FROM credit.audit_log WHERE case_id = %s ORDER BY id",
            (case,),
        ).fetchall()


async def test_each_request_leaves_an_entry_with_answer_digest(
    client: httpx.AsyncClient, auth: TokenFactory, credit_db_url: str
) -> None:
    body = unit_body()
    await client.post("/v1/units", json=body, headers=auth("units:write"))
    case = f"延自然资地〔2026〕17号 申请人 {citizen_id()}"
    got = await client.get(
        f"/v1/units/{body['uscc']}",
        headers={
            **auth("units:read", department="yanji-land", client_id="land-bureau"),
            "X-Case-Id": quote(case),
            "X-User-Id": "officer-0042",
        },
    )
    masked_case = case.replace(citizen_id(), citizen_id()[:6] + "********" + citizen_id()[14:])
    rows = _entries(credit_db_url, masked_case)
    assert len(rows) == 1
    client_id, department, user, _, operation, status, subject, digest, request_id = rows[0]
    assert (client_id, department, user, operation, status, subject) == (
        "land-bureau",
        "yanji-land",
        "officer-0042",
        "get_unit",
        200,
        body["uscc"],
    )
    assert digest == chain.digest("sm3", got.content).hex()
    assert request_id == got.headers["x-request-id"]
    with psycopg.connect(credit_db_url) as conn:
        clear = conn.execute(
            "SELECT count(*) FROM credit.audit_log WHERE case_id LIKE %s", (f"%{citizen_id()}%",)
        ).fetchone()
    assert clear == (0,)


async def test_refused_requests_are_audited(client: httpx.AsyncClient, auth: TokenFactory, credit_db_url: str) -> None:
    case = "refusal-audit-case"
    await client.get("/v1/units", headers={"X-Case-Id": case})
    await client.get("/v1/units", headers={**auth("records:read"), "X-Case-Id": case})
    too_large = {
        **auth("units:write"),
        "X-Case-Id": case,
        "content-type": "application/json",
        "content-length": str(64 * 1024 * 1024),
    }
    await client.post("/v1/units", content=b"{}", headers=too_large)
    statuses = [row[5] for row in _entries(credit_db_url, case)]
    assert statuses == [401, 403, 413]


@pytest.fixture
async def audit_ctx(pg_server_url: str, tmp_path: pathlib.Path) -> AsyncIterator[tuple[CreditContext, str]]:
    url = fresh_database(pg_server_url, "credit_audit")
    migrate.upgrade("credit", url)
    ctx = build_context(CreditSettings(database_url=url, data_dir=tmp_path, pii_key=TEST_PII_KEY), url)
    yield ctx, url
    await ctx.engine.dispose()
    drop_database(pg_server_url, url)


async def _verify(ctx: CreditContext) -> audit.Verification:
    # entries are sealed once every older transaction of the cluster has ended (other test
    # sessions may share the server): seal until nothing is pending, bounded
    for _ in range(300):
        async with ctx.sessions() as session:
            await audit.seal(session, ctx.audit)
            report = await audit.verify(session, ctx.audit)
            await session.commit()
        if report.unsealed == 0:
            return report
        await asyncio.sleep(0.2)
    raise AssertionError(f"entries stayed unsealed: {report.unsealed}")


def _superuser(url: str, sql: str, *params: object) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER TABLE credit.audit_log DISABLE TRIGGER audit_log_append_only")
        conn.execute(sql, params)
        conn.execute("ALTER TABLE credit.audit_log ENABLE TRIGGER audit_log_append_only")


async def test_chain_detects_edit_delete_and_reorder(audit_ctx: tuple[CreditContext, str]) -> None:
    ctx, url = audit_ctx
    writer = audit.AuditWriter(url, ctx.audit)
    for n in range(6):
        await writer.record(
            {
                "client_id": "bank-regulator",
                "department": "yanbian-pboc",
                "user_id": None,
                "case_id": f"loan-{n}",
                "purpose": "贷款审批",
                "operation": "create_check",
                "method": "POST",
                "path": "/v1/credit-checks",
                "status": 200,
                "subject_uscc": None,
                "request_id": f"r{n}",
                "result_digest": f"{n:064x}",
            },
        )
    await writer.close()
    intact = await _verify(ctx)
    assert intact.intact, intact.problems
    assert intact.checked == 6

    with psycopg.connect(url) as conn:
        original = conn.execute("SELECT * FROM credit.audit_log ORDER BY id").fetchall()
        with pytest.raises(psycopg.errors.RaiseException):
            conn.execute("UPDATE credit.audit_log SET status = 500 WHERE id = 2")
    ids = [row[0] for row in original]

    _superuser(url, "UPDATE credit.audit_log SET status = 403 WHERE id = %s", ids[1])
    edited = await _verify(ctx)
    assert any("position 2" in p and "edited" in p for p in edited.problems), edited.problems
    _superuser(url, "UPDATE credit.audit_log SET status = 200 WHERE id = %s", ids[1])
    assert (await _verify(ctx)).intact

    # an editor who also recomputes the entry hash still breaks the keyed chain
    row = dict(zip(("id", "txid", "at", *chain.ENTRY_FIELDS[1:]), original[2][:15], strict=False))
    forged = {**{k: row.get(k) for k in chain.ENTRY_FIELDS}, "status": 404}
    _superuser(
        url,
        "UPDATE credit.audit_log SET status = 404, row_hash = %s WHERE id = %s",
        chain.entry_hash("sm3", forged),
        ids[2],
    )
    rehashed = await _verify(ctx)
    assert any("position 3" in p and "chain broken" in p for p in rehashed.problems), rehashed.problems

    _superuser(url, "DELETE FROM credit.audit_log WHERE id = %s", ids[4])
    deleted = await _verify(ctx)
    assert any("position 5" in p and "deleted" in p for p in deleted.problems), deleted.problems

    _superuser(
        url,
        "UPDATE credit.audit_log SET request_id = CASE id WHEN %s THEN 'r5' ELSE 'r3' END, "
        "result_digest = CASE id WHEN %s THEN %s ELSE %s END WHERE id IN (%s, %s)",
        ids[3],
        ids[3],
        f"{5:064x}",
        f"{3:064x}",
        ids[3],
        ids[5],
    )
    reordered = await _verify(ctx)
    assert any("position 4" in p for p in reordered.problems), reordered.problems


async def test_export_for_one_case(client: httpx.AsyncClient, auth: TokenFactory, credit_ctx: CreditContext) -> None:
    body = unit_body()
    case = "延自然资地〔2026〕99号"
    h = {**auth("units:write", "units:read"), "X-Case-Id": quote(case)}
    await client.post("/v1/units", json=body, headers=h)
    await client.get(f"/v1/units/{body['uscc']}", headers=h)
    async with credit_ctx.sessions() as session:
        exported = await audit.export_csv(session, case_id=case, uscc=None)
    assert exported.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(exported.lstrip("\ufeff"))))
    assert rows[0][0].startswith("时间")
    assert [r[6] for r in rows[1:]] == ["create_unit", "get_unit"]
    assert all(r[10] == body["uscc"] for r in rows[1:])
    assert citizen_id() not in exported


async def test_rate_limit_answers_429_with_retry_after(
    client: httpx.AsyncClient, auth: TokenFactory, credit_ctx: CreditContext
) -> None:
    saved = credit_ctx.limiter
    credit_ctx.limiter = RateLimiter(per_minute=3)
    try:
        h = auth("units:list", client_id="noisy-client")
        answers = [(await client.get("/v1/units", headers=h)).status_code for _ in range(4)]
        limited = await client.get("/v1/units", headers=h)
    finally:
        credit_ctx.limiter = saved
    assert answers[:3] == [200, 200, 200]
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.headers["content-type"] == "application/problem+json"


async def test_key_rotation_keeps_old_tokens_valid(
    client: httpx.AsyncClient, credit_app: FastAPI, credit_ctx: CreditContext
) -> None:
    old_keys = credit_ctx.tokens.keys
    old_token, _ = credit_ctx.tokens.issue(client_id="c", department="d", scopes=["units:list"])
    keys_file = credit_ctx.settings.keys_file
    try:
        write_keyset(keys_file, KeySet([generate_key("rotated"), *old_keys.keys]))
        credit_app.state.keys_mtime = None
        await housekeeping(credit_app, credit_ctx)
        new_token, _ = credit_ctx.tokens.issue(client_id="c", department="d", scopes=["units:read"])
        assert credit_ctx.tokens.verify(new_token).client_id == "c"
        old_answer = await client.get("/v1/units", headers={"Authorization": f"Bearer {old_token}"})
        assert old_answer.status_code == 200
        write_keyset(keys_file, KeySet([generate_key("stranger")]))
        credit_ctx.tokens.replace_keys(load_keyset(keys_file))
        refused = await client.get("/v1/units", headers={"Authorization": f"Bearer {old_token}"})
        assert refused.status_code == 401
    finally:
        write_keyset(keys_file, old_keys)
        credit_ctx.tokens.replace_keys(old_keys)


async def test_revoked_client_is_refused_after_one_housekeeping_pass(
    client: httpx.AsyncClient, credit_app: FastAPI, credit_ctx: CreditContext
) -> None:
    async with credit_ctx.sessions() as session:
        secret = await clients.create_client(
            session, client_id="to-be-revoked", name="x", department="d", scopes=["units:list"]
        )
        await session.commit()
    issued = await client.post(
        "/v1/oauth/token",
        data={"grant_type": "client_credentials", "client_id": "to-be-revoked", "client_secret": secret},
    )
    h = {"Authorization": f"Bearer {issued.json()['access_token']}"}
    assert (await client.get("/v1/units", headers=h)).status_code == 200
    async with credit_ctx.sessions() as session:
        assert await clients.revoke_client(session, "to-be-revoked")
        await session.commit()
    await housekeeping(credit_app, credit_ctx)
    assert (await client.get("/v1/units", headers=h)).status_code == 401
    again = await client.post(
        "/v1/oauth/token",
        data={"grant_type": "client_credentials", "client_id": "to-be-revoked", "client_secret": secret},
    )
    assert again.status_code == 401


async def test_audit_writer_refuses_rather_than_hangs_when_stopping(credit_ctx: CreditContext) -> None:
    from services.credit.audit.service import AuditWriter

    writer = AuditWriter("postgresql://nobody@127.0.0.1:1/none", credit_ctx.audit)  # nothing listens there
    entry = {
        "client_id": "c",
        "department": "d",
        "operation": "get_unit",
        "method": "GET",
        "path": "/v1/units/x",
        "status": 200,
        "request_id": "r",
        "result_digest": "00",
    }
    with pytest.raises(OSError):
        await writer.record(entry)
    waiting = asyncio.ensure_future(writer.record(entry))  # arrives while the writer stops
    await writer.close()
    done, _ = await asyncio.wait({waiting}, timeout=5)
    assert waiting in done, "an answer waiting for its audit entry hung after close()"
    with pytest.raises(RuntimeError, match="stopping"):
        waiting.result()
    with pytest.raises(RuntimeError, match="stopping"):
        await writer.record(entry)


async def test_export_for_one_unit_finds_every_day(audit_ctx: tuple[CreditContext, str]) -> None:
    """The unit and case indexes lead with the day: an export walks every day the trail has."""
    ctx, url = audit_ctx
    writer = audit.AuditWriter(url, ctx.audit)
    wanted, other = "91222401MA0000001X", "91222401MA0000002X"
    days = [dt.datetime(2025, 12, 31, 23, 59, tzinfo=dt.UTC), dt.datetime(2026, 3, 1, 8, tzinfo=dt.UTC)]
    days += [dt.datetime(2026, 11, 28, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))]  # 27 Nov in UTC
    for n, (at, uscc) in enumerate([(d, u) for d in days for u in (wanted, other)]):
        await writer.record(
            {
                "at": at,
                "client_id": "land-bureau",
                "department": "yanji-land-bureau",
                "case_id": f"case-{n % 2}",
                "operation": "get_unit",
                "method": "GET",
                "path": f"/v1/units/{uscc}",
                "status": 200,
                "subject_uscc": uscc,
                "request_id": f"r{n}",
                "result_digest": f"{n:064x}",
            }
        )
    await writer.close()
    async with ctx.sessions() as session:
        by_unit = await audit.export_csv(session, case_id=None, uscc=wanted)
        by_case = await audit.export_csv(session, case_id="case-1", uscc=None)
        both = await audit.export_csv(session, case_id="case-0", uscc=other)
    rows = list(csv.reader(io.StringIO(by_unit.lstrip("\ufeff"))))[1:]
    assert [r[10] for r in rows] == [wanted] * 3
    assert [r[0][:10] for r in rows] == ["2025-12-31", "2026-03-01", "2026-11-27"]
    assert len(list(csv.reader(io.StringIO(by_case.lstrip("\ufeff"))))) == 1 + 3
    assert len(list(csv.reader(io.StringIO(both.lstrip("\ufeff"))))) == 1  # case-0 is only the wanted unit's
