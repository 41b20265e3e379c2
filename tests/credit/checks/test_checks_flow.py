"""Issue 3, done means: one unit from a serious penalty to a land-use check with the restricting
measure, feedback and statistics; a clean unit gets A and incentives; an unknown USCC is unknown."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.credit.grades import hooks
from tests.credit.checks.conftest import Clock, seed_record, seed_unit
from tests.credit.conftest import TokenFactory
from tests.credit.factories import new_uscc
from tests.credit.records_factory import penalty

D = dt.date
FIRE = ("records:write", "records:read", "units:write", "units:read", "listing:write", "listing:read")
OFFICER = ("checks:write", "checks:read")
LAND = "yanji-land-bureau"


async def make_unit(client: httpx.AsyncClient, auth: TokenFactory, **kw: Any) -> str:
    return await seed_unit(client, auth, **kw)


async def check(
    client: httpx.AsyncClient,
    auth: TokenFactory,
    uscc: str,
    scenario: str = "land_use_approval",
    department: str = LAND,
    **kw: Any,
) -> httpx.Response:
    body = {
        "uscc": uscc,
        "scenario": scenario,
        "case_ref": "延自然资审〔2026〕118号",
        "purpose": "国有建设用地使用权出让资格审查",
        "officer": "officer-0193 李明",
        **kw,
    }
    return await client.post("/v1/credit-checks", json=body, headers=auth(*OFFICER, department=department))


async def test_penalty_to_listing_to_land_use_check_feedback_and_statistics(
    client: httpx.AsyncClient, auth: TokenFactory, clock: Clock, session: AsyncSession
) -> None:
    clock.set(D(2026, 11, 20))
    uscc = await make_unit(client, auth)
    # 1. a serious penalty: 公众聚集场所未经消防安全检查擅自营业
    body = penalty(
        uscc,
        severity="serious",
        decision_date="2026-11-10",
        details={
            "violation_type": "公众聚集场所未经消防安全检查擅自投入使用、营业",
            "penalty_categories": ["fine", "production_suspended"],
        },
    )
    record_id = await seed_record(client, auth, body)

    # 2. the grade drops at once, with its explanation (computed live while the queue holds the unit)
    resp = await client.get(f"/v1/units/{uscc}/grade", headers=auth("records:read"))
    assert resp.status_code == 200, resp.text
    g = resp.json()
    assert (g["grade"], g["score"]) == ("B", 80)
    line = next(x for x in g["lines"] if x.get("record_id") == record_id)
    assert line["points"] == -20
    assert line["rule"] == "grades.deductions.administrative_penalty.serious"
    assert g["policy_version"]
    await hooks.drain(session, today=clock.day)  # whatever the writer left in the queue
    hist = (await client.get(f"/v1/units/{uscc}/grade-history", headers=auth("records:read"))).json()
    assert [h["grade"] for h in hist["items"]] == ["B"]

    # 3. listed through notice and objection window (working days)
    prop = await client.post(
        "/v1/serious-list",
        headers=auth(*FIRE),
        json={
            "uscc": uscc,
            "ground": "venue_opened_without_inspection",
            "record_ids": [record_id],
            "reasons": "该单位未经消防安全检查擅自营业，经责令停业后仍拒不改正。",
        },
    )
    assert prop.status_code == 201, prop.text
    lid = prop.json()["id"]
    early = await client.post(
        f"/v1/serious-list/{lid}/transitions",
        headers=auth(*FIRE),
        json={"event": "list", "reason": "too early"},
    )
    assert early.status_code == 409
    notice = await client.post(
        f"/v1/serious-list/{lid}/transitions",
        headers=auth(*FIRE),
        json={"event": "issue_notice", "reason": "告知", "document_no": "延市消告〔2026〕7号"},
    )
    assert notice.status_code == 200, notice.text
    n = notice.json()
    # 10 working days from Fri 20 Nov 2026: 23..27 Nov, 30 Nov..4 Dec
    assert n["objection_until"] == "2026-12-04"
    assert n["notice"]["content"]["rights"]
    assert n["notice"]["document_no"] == "延市消告〔2026〕7号"
    clock.set(D(2026, 12, 4))
    still_open = await client.post(
        f"/v1/serious-list/{lid}/transitions",
        headers=auth(*FIRE),
        json={"event": "list", "reason": "窗口未届满"},
    )
    assert still_open.json()["code"] == "objection_window_open"
    clock.set(D(2026, 12, 7))
    listed = await client.post(
        f"/v1/serious-list/{lid}/transitions",
        headers=auth(*FIRE),
        json={"event": "list", "reason": "异议期满未提出异议，决定列入"},
    )
    assert listed.status_code == 200, listed.text
    assert listed.json()["state"] == "listed"
    assert listed.json()["list_until"] == "2029-12-07"
    assert [e["event"] for e in listed.json()["events"]] == ["propose", "issue_notice", "list"]
    g = (await client.get(f"/v1/units/{uscc}/grade", headers=auth("records:read"))).json()
    assert g["grade"] == "D"
    assert g["lines"][-1]["rule"] == "listing.serious_list"
    # (the feed's reader waits for running transactions, and this test is one: read the table)
    feed = await session.execute(
        text("SELECT entity, operation FROM credit.changes WHERE uscc = :u ORDER BY id"), {"u": uscc}
    )
    mine = [tuple(r) for r in feed]
    assert ("listing", "list") in mine
    assert ("grade", "regraded") in mine

    # 4. a land-use check returns the restricting measure with its basis
    r = await check(client, auth, uscc)
    assert r.status_code == 201, r.text
    answer = r.json()
    assert answer["result"] == "found"
    assert answer["grade"]["grade"] == "D"
    assert answer["serious_list"]["listed"] is True
    assert answer["hit"] is True
    [m] = answer["measures"]
    assert m["id"] == "LU-D-01"
    assert m["kind"] == "restrict"
    assert "企业信息公示暂行条例" in m["legal_basis"]
    assert [x["id"] for x in answer["records"]] == [record_id]
    assert answer["feedback_due"] == "2026-12-21"  # 10 working days after Mon 7 Dec
    check_id = answer["id"]
    # stored immutably and verifiable
    again = await client.get(f"/v1/credit-checks/{check_id}", headers=auth(*OFFICER, department=LAND))
    # the very bytes answered, so a printed copy's hash can be recomputed from the stored answer
    assert again.content == r.content
    ok = await client.post(
        f"/v1/credit-checks/{check_id}:verify",
        headers=auth("checks:read", department="bank"),
        json={"code": answer["verification_code"]},
    )
    assert ok.json()["answer_hash"] == hashlib.sha256(again.content).hexdigest()
    ok = await client.post(
        f"/v1/credit-checks/{check_id}:verify",
        headers=auth("checks:read", department="bank"),
        json={"code": answer["verification_code"]},
    )
    assert ok.json()["valid"] is True
    bad = await client.post(
        f"/v1/credit-checks/{check_id}:verify", headers=auth("checks:read"), json={"code": "AAAAA-AAAAA"}
    )
    assert bad.json()["valid"] is False

    # 5. feedback recorded; twice is 409; another department is 403
    fb = {
        "outcome": "rejected",
        "decided_on": "2026-12-08",
        "officer": "officer-0193 李明",
        "measures": [{"measure_id": "LU-D-01", "applied": True}],
    }
    other = await client.post(
        f"/v1/credit-checks/{check_id}/feedback",
        json=fb,
        headers=auth(*OFFICER, department="dunhua-land-bureau"),
    )
    assert other.status_code == 403
    clock.set(D(2026, 12, 8))
    given = await client.post(
        f"/v1/credit-checks/{check_id}/feedback", json=fb, headers=auth(*OFFICER, department=LAND)
    )
    assert given.status_code == 201, given.text
    assert given.json()["on_time"] is True
    twice = await client.post(
        f"/v1/credit-checks/{check_id}/feedback", json=fb, headers=auth(*OFFICER, department=LAND)
    )
    assert twice.status_code == 409
    assert twice.json()["existing"] == f"/v1/credit-checks/{check_id}/feedback"

    # 6. a clean unit: grade A and incentives; an unknown USCC is unknown, never clean
    clean = await make_unit(client, auth, name="和龙市诚信商贸有限公司")
    a = (await check(client, auth, clean)).json()
    assert a["grade"]["grade"] == "A"
    assert a["hit"] is False
    assert [m["id"] for m in a["measures"]] == ["LU-A-01", "LU-A-02"]
    assert all(m["polarity"] == "incentive" for m in a["measures"])
    unknown = (await check(client, auth, new_uscc())).json()
    assert unknown["result"] == "unknown"
    assert unknown["grade"] is None
    assert unknown["measures"] == []
    assert unknown["notices"][0].startswith("unknown_unit")

    # 7. statistics count it all; the unanswered clean check becomes overdue after 10 working days
    clock.set(D(2026, 12, 31))
    stats = (
        await client.get(
            "/v1/credit-check-statistics?date_from=2026-12-01&date_to=2026-12-31",
            headers=auth(*OFFICER, department=LAND),
        )
    ).json()
    [row] = stats["rows"]
    assert row["department"] == LAND
    assert row["scenario"] == "land_use_approval"
    assert (row["checks"], row["hits"], row["unknown"], row["feedback"], row["measures_applied"]) == (
        3,
        1,
        1,
        1,
        1,
    )
    assert row["overdue_feedback"] == 2
    assert row["feedback_rate"] == round(1 / 3, 4)
    overdue = (
        await client.get("/v1/credit-checks/overdue-feedback", headers=auth(*OFFICER, department=LAND))
    ).json()
    assert len(overdue["items"]) == 2


async def test_bad_input(client: httpx.AsyncClient, auth: TokenFactory, clock: Clock) -> None:
    clock.set(D(2026, 11, 20))
    uscc = await make_unit(client, auth)
    r = await check(client, auth, uscc, scenario="moon_landing")
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["field"] == "body.scenario"
    r = await client.post(
        "/v1/credit-checks",
        headers=auth(*OFFICER),
        json={"uscc": uscc, "scenario": "land_use_approval", "purpose": "x", "officer": "y"},
    )
    assert r.status_code == 422
    assert any(e["field"] == "body.case_ref" for e in r.json()["errors"])
    r = await client.post(
        "/v1/credit-checks",
        headers=auth(*OFFICER, department=LAND),
        json={
            "uscc": uscc,
            "scenario": "land_use_approval",
            "case_ref": "c",
            "purpose": "p",
            "officer": "o",
            "department": "someone-else",
        },
    )
    assert r.status_code == 403
    assert r.json()["code"] == "department_mismatch"
    big = {
        "usccs": [uscc] * 10_001,
        "scenario": "land_use_approval",
        "case_ref": "c",
        "purpose": "p",
        "officer": "o",
    }
    r = await client.post("/v1/credit-checks:batch", json=big, headers=auth(*OFFICER))
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "body.usccs"


async def test_batch_answers_duplicates_once_in_order_and_streams(
    client: httpx.AsyncClient, auth: TokenFactory, clock: Clock
) -> None:
    clock.set(D(2026, 11, 20))
    a, b = await make_unit(client, auth), await make_unit(client, auth)
    unknown = new_uscc()
    body = {
        "usccs": [b, a, b, unknown, a],
        "scenario": "financial_support",
        "case_ref": "贷-2026-001",
        "purpose": "贷款授信前核查",
        "officer": "bank-officer-7",
    }
    r = await client.post("/v1/credit-checks:batch", json=body, headers=auth(*OFFICER, department="bank"))
    assert r.status_code == 200, r.text
    out = r.json()
    assert [i["uscc"] for i in out["items"]] == [b, a, unknown]
    assert out["duplicates"] == 2
    assert [i["result"] for i in out["items"]] == ["found", "found", "unknown"]
    s = await client.post(
        "/v1/credit-checks:batch",
        json=body,
        headers={**auth(*OFFICER, department="bank"), "Accept": "application/x-ndjson"},
    )
    assert s.headers["content-type"].startswith("application/x-ndjson")
    lines = [ln for ln in s.text.split("\n") if ln]
    assert len(lines) == 3
