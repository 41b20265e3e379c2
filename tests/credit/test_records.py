from __future__ import annotations

import datetime as dt

import httpx
import pytest

from services.credit.policy.model import add_duration
from tests.credit.conftest import TokenFactory
from tests.credit.factories import unit_body
from tests.credit.records_factory import penalty

WRITE = ("records:write", "records:read", "units:write", "units:read")


@pytest.fixture
async def uscc(client: httpx.AsyncClient, auth: TokenFactory) -> str:
    body = unit_body()
    created = await client.post("/v1/units", json=body, headers=auth(*WRITE))
    assert created.status_code == 201
    return str(body["uscc"])


async def test_penalty_gets_window_from_policy(client: httpx.AsyncClient, auth: TokenFactory, uscc: str) -> None:
    decided = dt.date(2026, 1, 31)
    created = await client.post(
        "/v1/records", json=penalty(uscc, decision_date=decided.isoformat()), headers=auth(*WRITE)
    )
    assert created.status_code == 201, created.text
    pub = created.json()["publication"]
    assert pub["min_until"] == "2026-04-30"  # P3M from 31 Jan clamps to month end
    assert pub["until"] == "2027-01-31"
    assert pub["query_until"] == add_duration(decided, "P5Y").isoformat()
    assert created.json()["status"] == "public"
    assert created.json()["responsible_persons"][0]["citizen_id_masked"] is True


async def test_warning_only_recorded_not_published(client: httpx.AsyncClient, auth: TokenFactory, uscc: str) -> None:
    body = penalty(uscc, details={"penalty_categories": ["warning", "public_criticism"], "fine_amount": None})
    created = await client.post("/v1/records", json=body, headers=auth(*WRITE))
    assert created.json()["status"] == "internal_only"
    assert created.json()["publication"]["published"] is False


async def test_longest_period_wins(client: httpx.AsyncClient, auth: TokenFactory, uscc: str) -> None:
    body = penalty(uscc, decision_date="2025-06-01", details={"penalty_categories": ["fine", "production_suspended"]})
    created = await client.post("/v1/records", json=body, headers=auth(*WRITE))
    assert created.json()["publication"]["until"] == "2028-06-01"
    assert created.json()["publication"]["min_until"] == "2026-06-01"


async def test_natural_key_retry_and_conflict(client: httpx.AsyncClient, auth: TokenFactory, uscc: str) -> None:
    body = penalty(uscc)
    first = await client.post("/v1/records", json=body, headers=auth(*WRITE))
    again = await client.post("/v1/records", json=body, headers=auth(*WRITE))
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    different = dict(body, legal_basis="《中华人民共和国消防法》第六十四条")
    clash = await client.post("/v1/records", json=different, headers=auth(*WRITE))
    assert clash.status_code == 409
    assert clash.json()["existing"] == f"/v1/records/{first.json()['id']}"
    other_department = await client.post("/v1/records", json=different, headers=auth(*WRITE, department="dunhua-fire"))
    assert other_department.status_code == 201


async def test_idempotency_key(client: httpx.AsyncClient, auth: TokenFactory, uscc: str) -> None:
    h = {**auth(*WRITE), "Idempotency-Key": "batch-2026-11-28-0001"}
    body = penalty(uscc)
    first = await client.post("/v1/records", json=body, headers=h)
    assert first.status_code == 201
    replay = await client.post("/v1/records", json=body, headers=h)
    assert replay.status_code == 200
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["id"] == first.json()["id"]
    reused = await client.post("/v1/records", json=penalty(uscc), headers=h)
    assert reused.status_code == 422
    assert reused.json()["errors"][0]["field"] == "header.Idempotency-Key"
    assert reused.json()["existing"] == f"/v1/records/{first.json()['id']}"


async def test_correct_withdraw_history(client: httpx.AsyncClient, auth: TokenFactory, uscc: str) -> None:
    h = auth(*WRITE)
    created = (await client.post("/v1/records", json=penalty(uscc), headers=h)).json()
    url = f"/v1/records/{created['id']}"
    fixed = penalty(uscc, document_no=created["document_no"], severity="serious")
    corrected = await client.post(
        f"{url}:correct", json={"reason": "认定情节严重", "record": fixed}, headers={**h, "If-Match": '"1"'}
    )
    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["severity"] == "serious"
    assert corrected.json()["publication"]["until"] > created["publication"]["until"]
    foreign = await client.post(
        f"{url}:withdraw",
        json={"reason": "x", "revoked_by": "court", "revoked_on": "2026-11-01"},
        headers={**auth(*WRITE, department="other"), "If-Match": '"2"'},
    )
    assert foreign.status_code == 403
    withdrawn = await client.post(
        f"{url}:withdraw",
        json={
            "reason": "行政复议决定撤销原处罚决定",
            "revoked_by": "reconsideration",
            "revoked_on": "2026-11-01",
            "revocation_document_no": "延州复决字〔2026〕12号",
        },
        headers={**h, "If-Match": '"2"'},
    )
    assert withdrawn.json()["status"] == "withdrawn"
    still_there = await client.get(url, headers=h)
    assert still_there.status_code == 200
    history = (await client.get(f"{url}/history", headers=h)).json()
    assert [v["change_kind"] for v in history["versions"]] == ["created", "corrected", "withdrawn"]
    assert "********" in history["versions"][0]["record"]["responsible_persons"][0]["citizen_id"]


async def test_bad_records_name_the_field(client: httpx.AsyncClient, auth: TokenFactory, uscc: str) -> None:
    h = auth(*WRITE)
    no_doc = penalty(uscc)
    no_doc.pop("document_no")
    r = await client.post("/v1/records", json=no_doc, headers=h)
    assert r.status_code == 422
    assert any(e["field"].endswith("document_no") for e in r.json()["errors"])
    fire = {
        "type": "fire_incident",
        "unit_uscc": uscc,
        "decision_date": "2026-10-01",
        "severity": "serious",
        "legal_basis": "《火灾事故调查规定》",
        "details": {
            "incident_date": "2026-09-20",
            "severity_class": "larger",
            "deaths": -1,
            "injuries": 0,
            "direct_loss_yuan": 1000,
            "responsibility_finding": "电气线路故障",
        },
    }
    r = await client.post("/v1/records", json=fire, headers=h)
    assert r.status_code == 422
    assert any(e["field"].endswith("details.deaths") for e in r.json()["errors"])
    first_day = await client.post("/v1/records", json=penalty(uscc, decision_date="0001-01-01"), headers=h)
    assert first_day.status_code == 422  # the driver would store the calendar's first day as -infinity
    assert any(e["field"].endswith("decision_date") for e in first_day.json()["errors"])
    future = penalty(uscc, decision_date="2999-01-01")
    r = await client.post("/v1/records", json=future, headers=h)
    assert any(e["field"].endswith("decision_date") for e in r.json()["errors"])
    unknown = await client.post("/v1/records", json=dict(penalty(uscc), type="gossip"), headers=h)
    assert unknown.status_code == 422


async def test_unit_records_page(client: httpx.AsyncClient, auth: TokenFactory, uscc: str) -> None:
    h = auth(*WRITE)
    for day in ("2026-01-05", "2026-03-05", "2026-02-05"):
        await client.post("/v1/records", json=penalty(uscc, decision_date=day), headers=h)
    first = await client.get(f"/v1/units/{uscc}/records", params={"limit": 2}, headers=h)
    assert [r["decision_date"] for r in first.json()["items"]] == ["2026-03-05", "2026-02-05"]
    rest = await client.get(
        f"/v1/units/{uscc}/records", params={"limit": 2, "cursor": first.json()["next_cursor"]}, headers=h
    )
    assert [r["decision_date"] for r in rest.json()["items"]] == ["2026-01-05"]
    assert rest.json()["next_cursor"] is None
