"""`POST /v1/units:import`: the set-based bulk path answers exactly as `:bulk-upsert` does (per item,
idempotent, same rejections), writes the same rows, change-feed entries and audit entry, and
refuses bad envelopes with problem+json, never a 500."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.credit.context import CreditContext
from services.credit.units import repository as repo
from services.credit.units.importer import IMPORT_MAX_ITEMS, _by_model, _merged, _shape, fast_accept, import_units
from services.credit.units.service import _content_hash, content_hash_hex
from services.kit.auth import Principal
from services.kit.ids import normalise_code, uscc_check_char, uscc_problem
from tests.credit.conftest import TokenFactory
from tests.credit.factories import citizen_id, new_uscc, unit_body

PROBLEM = "application/problem+json"
IMPORT = "/v1/units:import"


async def _feed(db: AsyncConnection, uscc: str) -> list[tuple[str, int]]:
    rows = await db.execute(
        text("SELECT operation, version FROM credit.changes WHERE entity = 'unit' AND uscc = :u ORDER BY id"),
        {"u": uscc},
    )
    return [(r[0], r[1]) for r in rows]


async def _stored(db: AsyncConnection, uscc: str) -> dict[str, Any]:
    row = (
        await db.execute(
            text(
                "SELECT name, address, fire_class, industry_code, established_on, version, content_hash,"
                " (SELECT array_agg(p.name ORDER BY p.name) FROM credit.unit_persons p"
                "  WHERE p.unit_id = u.id AND p.current) AS persons"
                " FROM credit.units u WHERE uscc = :u"
            ),
            {"u": uscc},
        )
    ).one()
    return dict(row._mapping)


def _bad_checksum(code: str) -> str:
    return code[:17] + ("0" if code[17] != "0" else "1")


def _bad_org_check(code: str) -> str:
    """The organisation code check (position 17) wrong, the USCC check character recomputed to fit."""
    first17 = code[:16] + ("0" if code[16] != "0" else "1")
    return first17 + uscc_check_char(first17)


def _tomorrow() -> dt.date:
    return dt.date.today() + dt.timedelta(days=1)


async def test_mixed_batch_is_answered_per_item(
    client: httpx.AsyncClient, auth: TokenFactory, db_conn: AsyncConnection
) -> None:
    h = auth("units:write", "units:read")
    existing = unit_body()
    same = unit_body()
    for body in (existing, same):
        assert (await client.post("/v1/units", json=body, headers=h)).status_code == 201
    fresh = unit_body(name="敦化市雁鸣湖宾馆", persons=None)
    changed = dict(existing, address="延吉市河南街1号")
    good_code = new_uscc()
    bad_checksum = unit_body(uscc=good_code[:17] + ("0" if good_code[17] != "0" else "1"))
    items = [fresh, changed, same, {"uscc": "91222401MA0000000X", "name": "x"}, dict(fresh), bad_checksum]
    answer = await client.post(IMPORT, json={"items": items}, headers=h)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    outcomes = [r["outcome"] for r in body["results"]]
    assert outcomes == ["created", "updated", "unchanged", "rejected", "rejected", "rejected"]
    assert [r["index"] for r in body["results"]] == list(range(6))
    assert body["counts"] == {"created": 1, "updated": 1, "unchanged": 1, "rejected": 3}
    assert [r["version"] for r in body["results"][:3]] == [1, 2, 1]
    assert "unit_type" in {e["field"] for e in body["results"][3]["errors"]}
    assert "index 0" in body["results"][4]["errors"][0]["reason"]
    assert body["results"][5]["errors"][0]["field"] == "uscc"
    assert body["as_of"]
    # the rows, persons and change feed the existing path writes
    assert await _feed(db_conn, fresh["uscc"]) == [("created", 1)]
    assert await _feed(db_conn, existing["uscc"]) == [("created", 1), ("updated", 2)]
    assert await _feed(db_conn, same["uscc"]) == [("created", 1)]
    stored = await _stored(db_conn, existing["uscc"])
    assert (stored["address"], stored["version"], stored["persons"]) == ("延吉市河南街1号", 2, ["金哲洙"])
    assert (await _stored(db_conn, fresh["uscc"]))["fire_class"] == "key_unit"
    got = await client.get(f"/v1/units/{existing['uscc']}", headers=auth("units:read", "pii:read"))
    assert got.json()["persons"][0]["citizen_id"] == citizen_id()


async def test_same_answers_and_rows_as_bulk_upsert(
    client: httpx.AsyncClient, auth: TokenFactory, db_conn: AsyncConnection
) -> None:
    """Both operations agree on what is valid, on every rejection's field and reason, and on content
    hashes: a batch written by one is `unchanged` for the other."""
    h = auth("units:write")
    rng = random.Random(7)
    good = [unit_body(name=f"图们市测试商店{i}") for i in range(6)]
    good[1]["uscc"] = "".join(chr(ord(c) + 0xFEE0) for c in good[1]["uscc"].lower())  # full width, model path
    good[2]["name"] = "  龙井市琵岩山酒店 "  # stray spaces: the model trims
    good[3].pop("persons")
    good[4]["established_on"] = None
    good[5]["persons"].append({"role": "principal", "name": "朴英姬", "citizen_id": citizen_id(serial=77)})
    bad: list[Any] = [
        "not an object",
        {**unit_body(), "unknown": 1},
        unit_body(region_code="22240"),
        unit_body(industry_code="Z12"),
        unit_body(established_on="2999-01-01"),
        unit_body(established_on="2008/03/14"),
        unit_body(name="a\x01b"),
        unit_body(name=""),
        unit_body(name="x" * 201),
        unit_body(unit_type="company"),
        unit_body(persons=[{"role": "legal_representative", "name": "金", "citizen_id": "222401198005171230"}]),
        unit_body(persons=[{"role": "boss", "name": "金", "citizen_id": citizen_id()}]),
        unit_body(persons=[{"role": "legal_representative", "name": "金"}]),
        unit_body(persons="金哲洙"),
        unit_body(uscc=12345),
        unit_body(uscc_override={"reason": "历史赋码"}),  # valid code: override is allowed but moot
        unit_body(reg_status_date=dt.date.today().isoformat(), fire_class=None),
        # USCC checks the direct path leaves to the model and `uscc_error`, and one it decides itself
        unit_body(uscc=_bad_checksum(new_uscc())),
        unit_body(uscc=_bad_org_check(new_uscc())),
        unit_body(uscc=new_uscc()[:8] + "O" + new_uscc()[9:]),
        unit_body(uscc=new_uscc().lower()),
        unit_body(uscc=new_uscc()[:2] + "A" + new_uscc()[3:]),
        # citizen ids: born today (valid), tomorrow, before 1880, on 30 February
        unit_body(persons=[{"role": "principal", "name": "朴", "citizen_id": citizen_id(born=dt.date.today())}]),
        unit_body(persons=[{"role": "principal", "name": "朴", "citizen_id": citizen_id(born=_tomorrow())}]),
        unit_body(persons=[{"role": "principal", "name": "朴", "citizen_id": citizen_id(born=dt.date(1879, 1, 1))}]),
        unit_body(persons=[{"role": "principal", "name": "朴", "citizen_id": "222401198002300010"}]),
    ]
    rng.shuffle(bad)
    by_import = await client.post(IMPORT, json={"items": good + bad}, headers=h)
    assert by_import.status_code == 200, by_import.text
    imported = by_import.json()["results"]
    assert all(r["outcome"] == "created" for r in imported[: len(good)]), imported[: len(good)]
    # the same batch through bulk-upsert: the good ones are unchanged, the bad ones rejected alike
    by_bulk = (await client.post("/v1/units:bulk-upsert", json={"items": good + bad}, headers=h)).json()["results"]
    for mine, theirs in zip(imported, by_bulk, strict=True):
        if mine["outcome"] == "created":
            assert theirs["outcome"] == "unchanged", (mine, theirs)
            assert theirs["version"] == 1
        else:
            assert mine == theirs
    # and the other way round
    fresh = [unit_body(name=f"珲春市测试仓库{i}") for i in range(3)]
    fresh[0].pop("persons")
    first = (await client.post("/v1/units:bulk-upsert", json={"items": fresh}, headers=h)).json()
    assert first["counts"]["created"] == 3
    again = (await client.post(IMPORT, json={"items": fresh}, headers=h)).json()
    assert again["counts"] == {"created": 0, "updated": 0, "unchanged": 3, "rejected": 0}


async def test_re_sent_batch_changes_nothing(
    client: httpx.AsyncClient, auth: TokenFactory, db_conn: AsyncConnection
) -> None:
    h = auth("units:write")
    items = [unit_body(name=f"汪清县测试宾馆{i}") for i in range(50)]
    first = (await client.post(IMPORT, json={"items": items}, headers=h)).json()
    assert first["counts"]["created"] == 50
    before = [await _stored(db_conn, i["uscc"]) for i in items[:5]]
    second = (await client.post(IMPORT, json={"items": items}, headers=h)).json()
    assert second["counts"] == {"created": 0, "updated": 0, "unchanged": 50, "rejected": 0}
    assert [r["version"] for r in second["results"]] == [1] * 50
    assert [await _stored(db_conn, i["uscc"]) for i in items[:5]] == before
    assert await _feed(db_conn, items[0]["uscc"]) == [("created", 1)]


async def test_omitted_fields_keep_stored_values_and_persons_replace(
    client: httpx.AsyncClient, auth: TokenFactory, db_conn: AsyncConnection
) -> None:
    h = auth("units:write")
    body = unit_body()
    await client.post(IMPORT, json={"items": [body]}, headers=h)
    partial = {k: body[k] for k in ("uscc", "name", "unit_type", "reg_status", "region_code")}
    same = (await client.post(IMPORT, json={"items": [partial]}, headers=h)).json()
    assert same["results"][0]["outcome"] == "unchanged"
    stored = await _stored(db_conn, body["uscc"])
    assert (stored["industry_code"], stored["persons"]) == ("H6110", ["金哲洙"])
    assert stored["established_on"] == dt.date(2008, 3, 14)
    new_people = [{"role": "legal_representative", "name": "崔光日", "citizen_id": citizen_id(serial=321)}]
    moved = dict(partial, address=None, persons=new_people)
    answer = (await client.post(IMPORT, json={"items": [moved]}, headers=h)).json()
    assert (answer["results"][0]["outcome"], answer["results"][0]["version"]) == ("updated", 2)
    stored = await _stored(db_conn, body["uscc"])
    assert (stored["address"], stored["persons"], stored["industry_code"]) == (None, ["崔光日"], "H6110")
    # the retired person stays (records may name them), no longer current
    count = await db_conn.execute(
        text(
            "SELECT count(*) FROM credit.unit_persons p JOIN credit.units u ON u.id = p.unit_id"
            " WHERE u.uscc = :u AND NOT p.current"
        ),
        {"u": body["uscc"]},
    )
    assert count.scalar() == 1
    assert await _feed(db_conn, body["uscc"]) == [("created", 1), ("updated", 2)]


async def test_bad_envelopes_are_problems_never_500(client: httpx.AsyncClient, auth: TokenFactory) -> None:
    h = auth("units:write")
    cases: list[tuple[dict[str, Any], int]] = [
        ({"content": b"{not json", "headers": {**h, "Content-Type": "application/json"}}, 400),
        ({"content": "{}".encode("gbk"), "headers": {**h, "Content-Type": "text/csv"}}, 415),
        ({"json": {"items": {}}, "headers": h}, 422),
        ({"json": [], "headers": h}, 422),
        ({"json": {"items": []}, "headers": h}, 422),
        ({"json": {"items": [unit_body()], "extra": 1}, "headers": h}, 422),
        ({"json": {"items": [{}] * (IMPORT_MAX_ITEMS + 1)}, "headers": h}, 422),
        ({"json": {"items": [unit_body()]}, "headers": auth("units:read")}, 403),
        ({"json": {"items": [unit_body()]}, "headers": {}}, 401),
    ]
    for kwargs, status in cases:
        answer = await client.post(IMPORT, **kwargs)
        assert answer.status_code == status, (kwargs.get("json", kwargs.get("content")), answer.text[:300])
        assert answer.headers["content-type"] == PROBLEM
        assert answer.json()["errors"] or status in (401, 403)
    junk: list[Any] = [None, 1, [], {"uscc": None}, {"uscc": "９１"}, {"persons": [None]}, {"uscc": "x" * 10_000}]
    answer = await client.post(IMPORT, json={"items": junk}, headers=h)
    assert answer.status_code == 200
    assert answer.json()["counts"]["rejected"] == len(junk)


def test_fast_acceptance_never_accepts_what_the_model_refuses() -> None:
    """Random mutations of a valid item: whenever the direct checks accept, the model accepts too and
    yields the same values."""
    rng = random.Random(2026)
    today = dt.date.today()
    mutations: list[tuple[str, Any]] = [
        ("uscc", " 91222401ma0abcde1x"),
        ("uscc", "91222401MA0ABCDE1"),
        ("uscc", "9122240１MA0ABCDE1X"),
        ("name", " 名 "),
        ("name", "名\t称"),
        ("name", "名\x7f"),
        ("name", "x" * 200),
        ("name", "x" * 201),
        ("name", 5),
        ("unit_type", "Enterprise"),
        ("fire_class", None),
        ("fire_class", "key"),
        ("reg_status", "operating "),
        ("region_code", "２２２４０１"),
        ("region_code", "22240a"),
        ("industry_code", "H61"),
        ("industry_code", "H6"),
        ("industry_code", "U61"),
        ("industry_code", "h6110"),
        ("industry_code", None),
        ("address", None),
        ("address", ""),
        ("address", "a" * 500),
        ("address", "a" * 501),
        ("established_on", "2008-02-30"),
        ("established_on", "1799-12-31"),
        ("established_on", "20080314"),
        ("established_on", (today + dt.timedelta(days=1)).isoformat()),
        ("established_on", today.isoformat()),
        ("reg_status_date", None),
        ("reg_status_date", "2008-3-14"),
        ("persons", []),
        ("persons", None),
        ("persons", [{"role": "principal", "name": "朴", "citizen_id": 1}]),
        ("persons", [{"role": "principal", "name": "朴", "citizen_id": citizen_id().lower()[:-1] + "x"}]),
        ("persons", [{"role": "principal", "name": "朴", "citizen_id": " " + citizen_id()}]),
        ("persons", [{"role": "principal", "name": "朴", "citizen_id": citizen_id(), "x": 1}]),
        ("persons", [{"role": "principal", "name": "朴", "citizen_id": citizen_id()}] * 21),
        ("persons", [{"role": "principal", "name": "朴", "citizen_id": citizen_id(born=today)}]),
        ("persons", [{"role": "principal", "name": "朴", "citizen_id": citizen_id(born=dt.date(1879, 12, 31))}]),
        ("uscc", _bad_checksum(new_uscc())),  # a checksum failure is the model's and `uscc_error`'s
        ("uscc", new_uscc()[:8] + "I" + new_uscc()[9:]),
        ("uscc", new_uscc().lower()),
        ("established_on", "1800-01-01"),
        ("reg_status_date", "1799-12-31"),
    ]
    accepted = 0
    for _ in range(600):
        item = unit_body()
        for key, value in rng.sample(mutations, rng.randint(1, 3)):
            item[key] = value
        if rng.random() < 0.2:
            item.pop(rng.choice(list(item)))
        fast = fast_accept(item, today, dt.date.today() if rng.random() < 0.5 else None)
        if fast is None:
            continue
        assert uscc_problem(fast[0]) is None, item
        accepted += 1
        modelled, rejection = _by_model(0, item)
        assert rejection is None, (item, rejection)
        assert modelled is not None
        assert (modelled[1], modelled[2], modelled[3]) == fast[:3], item
        assert modelled[5] == fast[3] == _shape(fast[1]), item  # the given columns' shape
    assert accepted > 50


async def test_each_import_leaves_one_audit_entry(
    client: httpx.AsyncClient, auth: TokenFactory, credit_db_url: str
) -> None:
    case = f"nightly-import-{random.randrange(10**9)}"
    items = [unit_body() for _ in range(3)]
    answer = await client.post(IMPORT, json={"items": items}, headers={**auth("units:write"), "X-Case-Id": case})
    assert answer.status_code == 200
    with psycopg.connect(credit_db_url) as conn:
        rows = conn.execute(
            "SELECT operation, status, client_id FROM credit.audit_log WHERE case_id = %s", (case,)
        ).fetchall()
    assert rows == [("import_units", 200, "test-client")]


def test_the_import_s_content_hash_is_service_s() -> None:
    """`content_hash_hex` (no key sorting: the dict is built in sorted key order) gives the bytes of
    `service._content_hash` on many values: texts with escapes, control and non-BMP characters, None,
    dates, overrides, persons lists; and for dicts built by the import's `_merged`, new or stored."""
    rng = random.Random(155)
    texts = ["延吉市长白山大酒店", 'quote " back \\ slash', "tab\tnew\nline", "\u2028\u00e9\U0001f525", "a" * 500, "x"]
    people = ["legal_representative", "principal", "actual_controller", "fire_safety_manager"]
    checked = 0
    for _ in range(20_000):
        values: dict[str, Any] = {}
        for column in repo.HASHED_COLUMNS:
            pick = rng.random()
            if column in ("reg_status_date", "established_on"):
                values[column] = None if pick < 0.3 else dt.date(1800, 1, 1) + dt.timedelta(days=rng.randrange(90_000))
            else:
                values[column] = None if pick < 0.2 else rng.choice(texts) + str(rng.randrange(100))
        persons = sorted(
            (rng.choice(people), rng.choice(texts), rng.randbytes(32).hex()) for _ in range(rng.choice((0, 1, 1, 2, 5)))
        )
        assert content_hash_hex(values, persons) == _content_hash(values, persons).hex()
        # the same values merged as the import merges them: a new unit, and a stored one (a locked row,
        # its given columns left out)
        given = {k: v for k, v in values.items() if k != "uscc_override_reason" and rng.random() < 0.6}
        override = values["uscc_override_reason"] if rng.random() < 0.2 else None
        stored_values = {c: values[c] if rng.random() < 0.5 else "stored" for c in repo.HASHED_COLUMNS}
        bits, omitted = _shape(given)
        row = (1, "uscc", *(None if bits >> i & 1 else v for i, v in enumerate(stored_values.values())), 1, "00", None)
        for old, base in ((None, dict.fromkeys(repo.HASHED_COLUMNS)), (row, stored_values)):
            merged = _merged(given, override, old, omitted)
            expected = {**base, **given}
            if override is not None:
                expected["uscc_override_reason"] = override
            expected["fire_class"] = expected["fire_class"] or "general"
            assert merged == expected
            assert tuple(merged) == repo.HASHED_COLUMNS
            assert content_hash_hex(merged, persons) == _content_hash(merged, persons).hex()
            checked += 1
    assert checked == 40_000


async def test_stored_rows_are_bulk_upsert_s(
    client: httpx.AsyncClient, auth: TokenFactory, db_conn: AsyncConnection, credit_ctx: CreditContext
) -> None:
    """The same items written by `:import` and by `:bulk-upsert` store the same unit rows, persons
    (id numbers decrypted) and change-feed entries: created, then updated with persons replaced, with
    omitted fields kept and a `persons: []` that retires everyone."""
    h = auth("units:write")
    first = [unit_body(name=f"龙井市测试酒店{i}") for i in range(8)]
    first[1].pop("persons")
    first[2]["persons"].append({"role": "principal", "name": "朴英姬", "citizen_id": citizen_id(serial=78)})
    first[3]["persons"] *= 2  # the same person twice: kept once
    first[4].update(address=None, industry_code=None, fire_class=None)
    first[5]["uscc"] = "".join(chr(ord(c) + 0xFEE0) for c in first[5]["uscc"])  # the model's path
    first[6]["reg_status_date"] = "2020-02-29"
    later = [dict(i) for i in first]
    later[0]["address"] = "延吉市新地址1号"
    later[1] = {k: first[1][k] for k in ("uscc", "name", "unit_type", "reg_status", "region_code")}
    later[2]["persons"] = [{"role": "actual_controller", "name": "崔光日", "citizen_id": citizen_id(serial=321)}]
    later[3]["persons"] = []
    later[4]["name"] = "龙井市测试酒店四号"
    usccs = [normalise_code(i["uscc"]) for i in first]

    async def rows() -> list[Any]:
        units = await db_conn.execute(
            text(
                "SELECT uscc, name, unit_type, fire_class, reg_status, reg_status_date, reg_authority, region_code,"
                " industry_code, address, established_on, uscc_override_reason, version, content_hash, updated_by"
                " FROM credit.units WHERE uscc = ANY(:u) ORDER BY uscc"
            ),
            {"u": usccs},
        )
        persons = await db_conn.execute(
            text(
                "SELECT u.uscc, p.role, p.name, p.id_hash, p.id_cipher, p.id_masked, p.current"
                " FROM credit.unit_persons p JOIN credit.units u ON u.id = p.unit_id WHERE u.uscc = ANY(:u)"
                " ORDER BY u.uscc, p.role, p.id_hash, p.current"
            ),
            {"u": usccs},
        )
        changes = await db_conn.execute(
            text(
                "SELECT uscc, operation, version, data FROM credit.changes WHERE uscc = ANY(:u) ORDER BY uscc, version"
            ),
            {"u": usccs},
        )
        pii = credit_ctx.pii
        return [
            [tuple(r) for r in units],
            [(*r[:4], pii.decrypt(r[4]), *r[5:]) for r in persons],
            [tuple(r) for r in changes],
        ]

    async def forget() -> None:
        await db_conn.execute(text("DELETE FROM credit.changes WHERE uscc = ANY(:u)"), {"u": usccs})
        await db_conn.execute(text("DELETE FROM credit.units WHERE uscc = ANY(:u)"), {"u": usccs})

    stored = {}
    for operation in (IMPORT, "/v1/units:bulk-upsert"):
        for batch in (first, later):
            answer = await client.post(operation, json={"items": batch}, headers=h)
            assert answer.status_code == 200, answer.text
            assert answer.json()["counts"]["rejected"] == 0, answer.text
        stored[operation] = await rows()
        await forget()
    assert stored[IMPORT] == stored["/v1/units:bulk-upsert"]
    units, persons, changes = stored[IMPORT]
    assert sorted(u[12] for u in units) == [1, 1, 1, 1, 2, 2, 2, 2]  # four updated by `later`
    assert sum(1 for p in persons if not p[-1]) == 3  # first[2]'s two people and first[3]'s one, retired
    assert len(changes) == 12


async def test_values_that_cannot_travel_joined_go_as_arrays(
    client: httpx.AsyncClient, auth: TokenFactory, db_conn: AsyncConnection
) -> None:
    """A stored text holding U+001F (never written through the API, which refuses control characters)
    is kept when an import updates the unit without that field: the batch's columns go as text arrays."""
    h = auth("units:write")
    body = unit_body()
    assert (await client.post(IMPORT, json={"items": [body]}, headers=h)).json()["counts"]["created"] == 1
    odd = "延吉市\x1f市场监督管理局"
    await db_conn.execute(
        text("UPDATE credit.units SET reg_authority = :a WHERE uscc = :u"), {"a": odd, "u": body["uscc"]}
    )
    other = unit_body(persons=[{"role": "principal", "name": "朴", "citizen_id": citizen_id(serial=5)}])
    moved = {k: v for k, v in body.items() if k != "reg_authority"} | {"address": "延吉市新地址2号"}
    answer = (await client.post(IMPORT, json={"items": [moved, other]}, headers=h)).json()
    assert [r["outcome"] for r in answer["results"]] == ["updated", "created"]
    row = (
        await db_conn.execute(
            text("SELECT reg_authority, address, version FROM credit.units WHERE uscc = :u"), {"u": body["uscc"]}
        )
    ).one()
    assert tuple(row) == (odd, "延吉市新地址2号", 2)
    assert repo._packed([("a", None), ("b\x1fc", "d")], ("text", "text"))[1] is False
    assert repo._packed([("a", "")], ("text",))[1] is False
    assert repo._packed([("a", None), (dt.date(2020, 1, 2), None)], ("text", "date")) == (
        ["a\x1f", "2020-01-02\x1f"],
        True,
    )


async def test_overlapping_batches_wait_for_each_other(
    credit_ctx: CreditContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two imports of the same units in opposite orders, in their own transactions at once: each locks
    and inserts in USCC order, so one waits for the other (no deadlock); units the other created
    meanwhile are retried as updates (here: unchanged), each created once."""
    principal = Principal(client_id="test-client", department="samr-feed", scopes=frozenset({"units:write"}))
    # enough units that the two locking reads run at the same time in the database
    items = [unit_body(name=f"并发导入测试单位{i}") for i in range(3000)]

    async def run(batch: list[dict[str, Any]]) -> dict[str, Any]:
        async with credit_ctx.sessions() as session:
            answer = await import_units(credit_ctx, session, batch, principal)
            await session.commit()
            return answer

    try:
        await _overlap(run, items, monkeypatch)
    finally:  # these transactions committed: leave the shared test database as other tests expect it
        usccs = [str(i["uscc"]) for i in items]
        async with credit_ctx.sessions() as session:
            await session.execute(text("DELETE FROM credit.changes WHERE uscc = ANY(:u)"), {"u": usccs})
            await session.execute(text("DELETE FROM credit.units WHERE uscc = ANY(:u)"), {"u": usccs})
            await session.commit()


async def _overlap(
    run: Callable[[list[dict[str, Any]]], Awaitable[dict[str, Any]]],
    items: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = await run(items[:2500])
    assert first["counts"]["created"] == 2500
    skipped: list[int] = []  # new units another writer inserted between the locking read and the insert
    insert = repo.import_new_units

    async def counting_insert(session: Any, rows: list[Any], persons: list[Any], writer: str) -> set[str]:
        created = await insert(session, rows, persons, writer)
        skipped.append(len(rows) - len(created))
        return created

    monkeypatch.setattr(repo, "import_new_units", counting_insert)
    forward, backward = await asyncio.gather(run(items), run(items[::-1]))
    outcomes: dict[str, list[str]] = {}
    for answer in (forward, backward):
        assert answer["counts"]["rejected"] == 0, answer["results"]
        for r in answer["results"]:
            outcomes.setdefault(r["uscc"], []).append(r["outcome"])
    existing = {r["uscc"] for r in first["results"]}
    assert len(outcomes) == 3000
    assert all(sorted(o) == ["unchanged", "unchanged"] for u, o in outcomes.items() if u in existing)
    assert all(sorted(o) == ["created", "unchanged"] for u, o in outcomes.items() if u not in existing)
    assert max(skipped) == 500  # the later batch's insert met the earlier one's units: retried as updates
