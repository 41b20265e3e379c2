from __future__ import annotations

import httpx

from services.credit.context import CreditContext
from services.kit.ids import make_uscc
from tests.credit.conftest import TokenFactory
from tests.credit.factories import citizen_id, new_uscc, unit_body

PROBLEM = "application/problem+json"


async def test_create_then_get_masks_id_without_pii_scope(client: httpx.AsyncClient, auth: TokenFactory) -> None:
    body = unit_body()
    created = await client.post("/v1/units", json=body, headers=auth("units:write", "units:read"))
    assert created.status_code == 201, created.text
    assert created.headers["etag"] == '"1"'
    got = await client.get(f"/v1/units/{body['uscc']}", headers=auth("units:read"))
    assert got.status_code == 200
    person = got.json()["persons"][0]
    assert person["citizen_id"] == citizen_id()[:6] + "********" + citizen_id()[14:]
    assert person["citizen_id_masked"] is True
    assert got.json()["reg_status_label"] == "存续"
    assert got.json()["as_of"]
    full = await client.get(f"/v1/units/{body['uscc']}", headers=auth("units:read", "pii:read"))
    assert full.json()["persons"][0]["citizen_id"] == citizen_id()


async def test_full_width_lower_case_uscc_is_normalised(client: httpx.AsyncClient, auth: TokenFactory) -> None:
    uscc = new_uscc()
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in uscc.lower())
    created = await client.post("/v1/units", json=unit_body(uscc=f"  {full_width} "), headers=auth("units:write"))
    assert created.status_code == 201, created.text
    assert created.json()["uscc"] == uscc


async def test_bad_checksum_refused_unless_overridden_with_scope(client: httpx.AsyncClient, auth: TokenFactory) -> None:
    good = new_uscc()
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    refused = await client.post("/v1/units", json=unit_body(uscc=bad), headers=auth("units:write"))
    assert refused.status_code == 422
    assert refused.headers["content-type"] == PROBLEM
    assert refused.json()["errors"][0]["field"] == "body.uscc"
    override = {"reason": "营业执照原件核对无误，系统赋码历史错误"}
    no_scope = await client.post(
        "/v1/units", json=unit_body(uscc=bad, uscc_override=override), headers=auth("units:write")
    )
    assert no_scope.status_code == 422
    ok = await client.post(
        "/v1/units", json=unit_body(uscc=bad, uscc_override=override), headers=auth("units:write", "units:override")
    )
    assert ok.status_code == 201, ok.text
    assert ok.json()["uscc_checksum_overridden"] is True


async def test_update_needs_matching_if_match(client: httpx.AsyncClient, auth: TokenFactory) -> None:
    body = unit_body()
    h = auth("units:write", "units:read")
    await client.post("/v1/units", json=body, headers=h)
    url = f"/v1/units/{body['uscc']}"
    missing = await client.patch(url, json={"fire_class": "high_risk_unit"}, headers=h)
    assert missing.status_code == 428
    stale = await client.patch(url, json={"fire_class": "high_risk_unit"}, headers={**h, "If-Match": '"7"'})
    assert stale.status_code == 412
    ok = await client.patch(url, json={"fire_class": "high_risk_unit"}, headers={**h, "If-Match": '"1"'})
    assert ok.status_code == 200, ok.text
    assert ok.json()["fire_class"] == "high_risk_unit"
    assert ok.headers["etag"] == '"2"'


async def test_bulk_upsert_answers_each_item(client: httpx.AsyncClient, auth: TokenFactory) -> None:
    h = auth("units:write", "units:read")
    existing = unit_body()
    await client.post("/v1/units", json=existing, headers=h)
    fresh = unit_body(name="敦化市雁鸣湖宾馆")
    changed = dict(existing, address="延吉市河南街1号")
    same = unit_body()
    await client.post("/v1/units", json=same, headers=h)
    items = [fresh, changed, same, {"uscc": "91222401MA0000000X", "name": "x"}, dict(fresh)]
    result = await client.post("/v1/units:bulk-upsert", json={"items": items}, headers=h)
    assert result.status_code == 200, result.text
    outcomes = [r["outcome"] for r in result.json()["results"]]
    assert outcomes == ["created", "updated", "unchanged", "rejected", "rejected"]
    assert result.json()["counts"] == {"created": 1, "updated": 1, "unchanged": 1, "rejected": 2}
    reasons = {e["field"] for e in result.json()["results"][3]["errors"]}
    assert "unit_type" in reasons
    assert "index 0" in result.json()["results"][4]["errors"][0]["reason"]


async def test_bulk_upsert_of_10001_refused_whole(client: httpx.AsyncClient, auth: TokenFactory) -> None:
    items = [unit_body()] * 10_001
    result = await client.post("/v1/units:bulk-upsert", json={"items": items}, headers=auth("units:write"))
    assert result.status_code == 422
    assert result.json()["errors"][0]["field"] == "body.items"


async def test_search_by_chinese_substring_and_pages(client: httpx.AsyncClient, auth: TokenFactory) -> None:
    h = auth("units:write", "units:read", "units:list")
    names = ["图们市江畔酒店", "龙井市琵岩山酒店", "珲春市口岸物流仓储有限公司"]
    for name in names:
        await client.post("/v1/units", json=unit_body(name=name), headers=h)
    first = await client.get("/v1/units", params={"name_contains": "酒店", "limit": 1}, headers=h)
    assert first.status_code == 200, first.text
    assert len(first.json()["items"]) == 1
    second = await client.get(
        "/v1/units", params={"name_contains": "酒店", "limit": 1, "cursor": first.json()["next_cursor"]}, headers=h
    )
    found = {first.json()["items"][0]["name"], second.json()["items"][0]["name"]}
    assert found >= {"图们市江畔酒店", "龙井市琵岩山酒店"} - {n for n in found if n not in names}
    assert "珲春市口岸物流仓储有限公司" not in found
    bad = await client.get("/v1/units", params={"cursor": "garbage"}, headers=h)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "query.cursor"


async def test_unknown_enum_and_bad_citizen_id_name_the_field(client: httpx.AsyncClient, auth: TokenFactory) -> None:
    h = auth("units:write")
    bad_enum = await client.post("/v1/units", json=unit_body(unit_type="spaceship"), headers=h)
    assert bad_enum.status_code == 422
    assert bad_enum.json()["errors"][0]["field"] == "body.unit_type"
    person = {
        "role": "principal",
        "name": "李明",
        "citizen_id": citizen_id()[:17] + "0" if citizen_id()[17] != "0" else citizen_id()[:17] + "1",
    }
    bad_id = await client.post("/v1/units", json=unit_body(persons=[person]), headers=h)
    assert bad_id.status_code == 422
    assert bad_id.json()["errors"][0]["field"] == "body.persons.0.citizen_id"
    future = await client.post("/v1/units", json=unit_body(established_on="2999-01-01"), headers=h)
    assert future.json()["errors"][0]["field"] == "body.established_on"


async def test_no_token_no_scope(client: httpx.AsyncClient, auth: TokenFactory) -> None:
    uscc = make_uscc("9", "1", "222401", "MA000001")
    anonymous = await client.get(f"/v1/units/{uscc}")
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == PROBLEM
    wrong = await client.get(f"/v1/units/{uscc}", headers=auth("records:read"))
    assert wrong.status_code == 403


async def test_wrong_encoding_and_oversized_body(client: httpx.AsyncClient, auth: TokenFactory) -> None:
    h = {**auth("units:write"), "content-type": "application/json"}
    gbk = '{"items": [{"name": "延吉"}]}'.encode("gbk")
    bad = await client.post("/v1/units:bulk-upsert", content=gbk, headers=h)
    assert bad.status_code == 400
    assert "UTF-8" in bad.json()["detail"]
    huge = await client.post("/v1/units:bulk-upsert", content=b"[" + b" " * (50 * 1024 * 1024) + b"]", headers=h)
    assert huge.status_code == 413
    assert huge.headers["content-type"] == PROBLEM


async def test_driver_level_writes_stay_inside_the_session_transaction(credit_ctx: CreditContext) -> None:
    from services.credit.units import repository as repo

    body = unit_body()
    row = {c: body.get(c) for c in repo.UNIT_COLUMNS}
    row.update(established_on=None, uscc_override_reason=None, version=1, content_hash=b"h", updated_by="t")
    async with credit_ctx.sessions() as session:
        assert body["uscc"] in await repo.insert_units(session, [row])
        await session.rollback()
    async with credit_ctx.sessions() as session:
        assert await repo.get_by_uscc(session, body["uscc"]) is None
