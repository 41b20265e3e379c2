"""Time travel with a fixed clock: a record leaving its window changes the grade that day; a listing
expires after its period and the unit's grade follows."""

from __future__ import annotations

import datetime as dt
import pathlib

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from services.credit.checks import jobs
from services.credit.grades import hooks
from services.credit.policy.checks_model import CHECKS_POLICY_FILE, load_checks_policy
from tests.credit.checks.conftest import Clock, seed_record, seed_unit
from tests.credit.conftest import TokenFactory
from tests.credit.records_factory import penalty

D = dt.date
FIRE = ("listing:write", "listing:read")


async def grade_of(client: httpx.AsyncClient, auth: TokenFactory, uscc: str) -> tuple[str, int]:
    g = (await client.get(f"/v1/units/{uscc}/grade", headers=auth("records:read"))).json()
    return g["grade"], g["score"]


async def test_record_leaving_its_window_changes_the_grade_that_day(
    client: httpx.AsyncClient, auth: TokenFactory, clock: Clock, session: AsyncSession
) -> None:
    clock.set(D(2026, 11, 20))
    uscc = await seed_unit(client, auth)
    await seed_record(client, auth, penalty(uscc, severity="serious", decision_date="2026-10-01"))
    await hooks.drain(session, today=clock.day)
    assert await grade_of(client, auth, uscc) == ("B", 80)
    stored = await session.execute(
        text(
            "SELECT next_change_on FROM credit.grades g JOIN credit.units u "
            "ON u.id = g.unit_id WHERE u.uscc = :u"
        ),
        {"u": uscc},
    )
    assert stored.scalar_one() == D(2029, 10, 1)  # serious: public 3 years

    clock.set(D(2029, 9, 30))
    await hooks.nightly(session, today=clock.day)
    assert await grade_of(client, auth, uscc) == ("B", 80)
    clock.set(D(2029, 10, 1))
    report = await hooks.nightly(session, today=clock.day)
    assert report["moves"] == {"B->A": 1}
    assert await grade_of(client, auth, uscc) == ("A", 100)
    hist = (await client.get(f"/v1/units/{uscc}/grade-history", headers=auth("records:read"))).json()["items"]
    assert [(h["grade"], h["reason"]) for h in hist] == [("B", "record_changed"), ("A", "time")]


async def test_listing_expires_and_grade_follows(
    client: httpx.AsyncClient, auth: TokenFactory, clock: Clock, session: AsyncSession
) -> None:
    clock.set(D(2026, 11, 20))
    uscc = await seed_unit(client, auth)
    body = penalty(
        uscc, severity="serious", decision_date="2026-11-02", details={"penalty_categories": ["fine"]}
    )
    record_id = await seed_record(client, auth, body)
    prop = await client.post(
        "/v1/serious-list",
        headers=auth(*FIRE),
        json={"uscc": uscc, "ground": "refused_correction", "record_ids": [record_id], "reasons": "拒不改正"},
    )
    assert prop.status_code == 201, prop.text
    lid = prop.json()["id"]
    for day, event in ((D(2026, 11, 20), "issue_notice"), (D(2026, 12, 7), "list")):
        clock.set(day)
        r = await client.post(
            f"/v1/serious-list/{lid}/transitions", headers=auth(*FIRE), json={"event": event, "reason": event}
        )
        assert r.status_code == 200, r.text
    assert await grade_of(client, auth, uscc) == ("D", 80)
    clock.set(D(2029, 12, 6))
    assert (await hooks.nightly(session, today=clock.day))["listings_expired"] == 0
    clock.set(D(2029, 12, 7))
    report = await hooks.nightly(session, today=clock.day)
    assert report["listings_expired"] == 1
    listing = (await client.get(f"/v1/serious-list/{lid}", headers=auth(*FIRE))).json()
    assert (listing["state"], listing["end_reason"]) == ("removed", "expired")
    assert listing["events"][-1]["event"] == "expire"
    assert listing["events"][-1]["actor"] == "nightly"
    # the serious penalty (decided 2 Nov 2026) left publication on 2 Nov 2029: the unit is back to A
    assert await grade_of(client, auth, uscc) == ("A", 100)
    feed = await session.execute(
        text("SELECT operation FROM credit.changes WHERE entity = 'listing' AND entity_id = :id ORDER BY id"),
        {"id": lid},
    )
    assert [r[0] for r in feed] == ["propose", "issue_notice", "list", "expire"]


async def test_withdrawn_record_removes_listing(
    client: httpx.AsyncClient, auth: TokenFactory, clock: Clock, session: AsyncSession
) -> None:
    clock.set(D(2026, 11, 20))
    uscc = await seed_unit(client, auth)
    record = await client.post(
        "/v1/records", json=penalty(uscc, severity="serious"), headers=auth("records:write", "records:read")
    )
    record_id = record.json()["id"]
    lid = (
        await client.post(
            "/v1/serious-list",
            headers=auth(*FIRE),
            json={
                "uscc": uscc,
                "ground": "refused_correction",
                "record_ids": [record_id],
                "reasons": "拒不改正",
            },
        )
    ).json()["id"]
    w = await client.post(
        f"/v1/records/{record_id}:withdraw",
        headers={**auth("records:write", "records:read"), "If-Match": '"1"'},
        json={"reason": "行政复议撤销", "revoked_by": "reconsideration", "revoked_on": "2026-11-19"},
    )
    assert w.status_code == 200, w.text
    await hooks.drain(session, today=clock.day)  # what the records writer's hook (or the queue job) does
    listing = (await client.get(f"/v1/serious-list/{lid}", headers=auth(*FIRE))).json()
    assert (listing["state"], listing["end_reason"]) == ("cancelled", "record_withdrawn")
    assert await grade_of(client, auth, uscc) == ("A", 100)


async def test_policy_change_dry_run_counts_moves_then_applies(
    client: httpx.AsyncClient,
    auth: TokenFactory,
    clock: Clock,
    session: AsyncSession,
    db_conn: AsyncConnection,
    tmp_path: pathlib.Path,
) -> None:
    clock.set(D(2026, 11, 20))
    uscc = await seed_unit(client, auth)
    await seed_record(client, auth, penalty(uscc, severity="serious", decision_date="2026-10-01"))
    await hooks.drain(session, today=clock.day)
    assert await grade_of(client, auth, uscc) == ("B", 80)
    raw = CHECKS_POLICY_FILE.read_text(encoding="utf-8")
    harsher = raw.replace('version = "2026.1-checks.1"', 'version = "2027.1-checks.1"').replace(
        "administrative_penalty = { general = 5, serious = 20 }",
        "administrative_penalty = { general = 5, serious = 30 }",
    )
    (tmp_path / "p.toml").write_text(harsher, encoding="utf-8")
    policy = load_checks_policy(tmp_path / "p.toml")
    factory = async_sessionmaker(
        bind=db_conn, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    dry = await jobs.policy_rollout(factory, clock.day, policy, apply=False, actor="test")
    assert dry["moves"].get("B->C", 0) >= 1
    assert await grade_of(client, auth, uscc) == ("B", 80)  # nothing applied
    applied = await jobs.policy_rollout(factory, clock.day, policy, apply=True, actor="credit-office")
    assert applied["moves"] == dry["moves"]
    g = (await client.get(f"/v1/units/{uscc}/grade", headers=auth("records:read"))).json()
    assert (g["grade"], g["score"], g["policy_version"]) == ("C", 70, "2027.1-checks.1")
