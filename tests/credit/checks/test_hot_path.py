"""The hot path (services/kit/hotpath.py) answers exactly as the framework's routes would: same
status, headers that matter, body and audit entry, for good and for bad input."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI

from services.credit.app import create_app
from services.credit.context import CreditContext
from tests.credit.checks.conftest import seed_unit
from tests.credit.conftest import TokenFactory
from tests.credit.factories import new_uscc

OFFICER = ("checks:write", "checks:read")
LAND = "yanji-land-bureau"
# answered afresh on every call: ids, codes and times differ between two checks of the same unit
FRESH = {"id", "verification_code", "created_at", "as_of", "batch_id", "request_id"}


class Paths:
    def __init__(self, hot: httpx.AsyncClient, framework: httpx.AsyncClient, audits: dict[str, list[dict[str, Any]]]):
        self.hot, self.framework, self.audits = hot, framework, audits


@pytest.fixture
async def paths(credit_app: FastAPI, credit_ctx: CreditContext) -> AsyncIterator[Paths]:
    assert credit_ctx.settings.hot_path, "the service serves the hot path by default"
    framework = create_app(credit_ctx.settings.model_copy(update={"hot_path": False}), context=credit_ctx)
    framework.dependency_overrides.update(credit_app.dependency_overrides)
    audits: dict[str, list[dict[str, Any]]] = {"hot": [], "framework": []}
    for name, app in (("hot", credit_app), ("framework", framework)):

        async def capture(entry: dict[str, Any], into: list[dict[str, Any]] = audits[name]) -> None:
            into.append(entry)

        app.state.audit_sink = capture
    try:
        async with (
            httpx.AsyncClient(transport=httpx.ASGITransport(app=credit_app), base_url="http://credit.test") as hot,
            httpx.AsyncClient(transport=httpx.ASGITransport(app=framework), base_url="http://credit.test") as fw,
        ):
            yield Paths(hot, fw, audits)
    finally:
        await framework.state.audit_writer.close()


def _comparable(r: httpx.Response) -> tuple[int, str | None, str | None, Any]:
    ctype = r.headers.get("content-type")
    if ctype and "json" in ctype and "ndjson" not in ctype:
        body: Any = _strip(orjson.loads(r.content))
    elif ctype and "ndjson" in ctype:
        body = [_strip(orjson.loads(line)) for line in r.content.splitlines()]
    else:
        body = r.content
    location = r.headers.get("location")
    return r.status_code, ctype, location and location.rsplit("/", 1)[0], body


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in FRESH}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


async def same_answer(paths: Paths, method: str, url: str, **kw: Any) -> httpx.Response:
    hot = await paths.hot.request(method, url, **kw)
    framework = await paths.framework.request(method, url, **kw)
    assert _comparable(hot) == _comparable(framework), (method, url, kw.get("content") or kw.get("json"))
    for header in ("etag", "www-authenticate", "retry-after", "x-batch-count", "x-batch-duplicates"):
        assert hot.headers.get(header) == framework.headers.get(header), header
    h, f = paths.audits["hot"][-1], paths.audits["framework"][-1]
    for field in ("operation", "method", "path", "status", "subject_uscc", "client_id", "department", "purpose"):
        assert h[field] == f[field], field
    return hot


async def test_unit_read_is_the_same_on_both_paths(paths: Paths, client: httpx.AsyncClient, auth: TokenFactory) -> None:
    uscc = await seed_unit(client, auth)
    reader = auth("units:read")
    ok = await same_answer(paths, "GET", f"/v1/units/{uscc}", headers=reader)
    assert ok.status_code == 200
    assert paths.audits["hot"][-1]["operation"] == "get_unit"
    assert (await same_answer(paths, "GET", f"/v1/units/{uscc.lower()}", headers=reader)).status_code == 200
    assert (await same_answer(paths, "GET", f"/v1/units/{new_uscc()}", headers=reader)).status_code == 404
    for bad in ("abc", "%E5%BB%B6%E5%90%89", "91222401MA0000000X:x", "9" * 40):
        assert (await same_answer(paths, "GET", f"/v1/units/{bad}", headers=reader)).status_code == 422
    assert (await same_answer(paths, "GET", f"/v1/units/{uscc}")).status_code == 401
    assert (await same_answer(paths, "GET", "/v1/units/abc")).status_code == 401  # who asks comes first
    assert (await same_answer(paths, "GET", f"/v1/units/{uscc}", headers=auth("checks:read"))).status_code == 403
    garbage = {"Authorization": "Bearer not-a-token"}
    assert (await same_answer(paths, "GET", f"/v1/units/{uscc}", headers=garbage)).status_code == 401


async def test_check_is_the_same_on_both_paths(paths: Paths, client: httpx.AsyncClient, auth: TokenFactory) -> None:
    uscc = await seed_unit(client, auth)
    officer = auth(*OFFICER, department=LAND)
    good = {
        "uscc": uscc,
        "scenario": "land_use_approval",
        "case_ref": "延自然资〔2026〕1号",
        "purpose": "出让",
        "officer": "王",
    }
    ok = await same_answer(paths, "POST", "/v1/credit-checks", json=good, headers=officer)
    assert ok.status_code == 201
    assert paths.audits["hot"][-1]["operation"] == "create_check"
    unknown = await same_answer(paths, "POST", "/v1/credit-checks", json={**good, "uscc": new_uscc()}, headers=officer)
    assert unknown.json()["result"] == "unknown"
    as_json = {**officer, "Content-Type": "application/json"}
    refused: list[tuple[dict[str, str], bytes, int]] = [
        (as_json, b"", 422),
        (as_json, b"{", 422),
        (as_json, b'{"uscc": NaN}', 422),
        (as_json, b"[]", 422),
        (as_json, b"null", 422),
        (as_json, b"\xff\xfe\x00]", 422),
        (as_json, b"\x80\x81{", 400),
        (as_json, orjson.dumps({**good, "scenario": "lottery"}), 422),
        (as_json, orjson.dumps({k: v for k, v in good.items() if k != "case_ref"}), 422),
        (as_json, orjson.dumps({**good, "uscc": 7}), 422),
        (as_json, orjson.dumps({**good, "department": "bank"}), 403),
        (as_json, '{"uscc": "x"}'.encode("utf-16"), 422),
        ({**officer, "Content-Type": "text/plain"}, orjson.dumps(good), 422),
        (officer, orjson.dumps(good), 422),  # no content type at all
        ({**officer, "Content-Type": "application/merge-patch+json; charset=utf-8"}, orjson.dumps(good), 201),
        ({"Content-Type": "application/json"}, b"{", 422),  # unreadable JSON is refused before authorisation
        ({"Content-Type": "application/json"}, orjson.dumps(good), 401),
        ({**auth("checks:read"), "Content-Type": "application/json"}, orjson.dumps({}), 403),
    ]
    for headers, body, status in refused:
        r = await same_answer(paths, "POST", "/v1/credit-checks", content=body, headers=headers)
        assert r.status_code == status, (body, r.text)


async def test_batch_is_the_same_on_both_paths(paths: Paths, client: httpx.AsyncClient, auth: TokenFactory) -> None:
    known = [await seed_unit(client, auth) for _ in range(3)]
    officer = auth(*OFFICER, department="bank")
    body = {
        "usccs": [*known, new_uscc(), known[0]],
        "scenario": "financial_support",
        "case_ref": "LOAN-1",
        "purpose": "贷款",
        "officer": "李",
    }
    r = await same_answer(paths, "POST", "/v1/credit-checks:batch", json=body, headers=officer)
    assert r.json()["count"] == 4
    assert r.json()["duplicates"] == 1
    lines = await same_answer(
        paths, "POST", "/v1/credit-checks:batch", json=body, headers={**officer, "Accept": "application/x-ndjson"}
    )
    assert len(lines.content.splitlines()) == 4
    too_many = {**body, "usccs": [known[0]] * 10_001}
    assert (
        await same_answer(paths, "POST", "/v1/credit-checks:batch", json=too_many, headers=officer)
    ).status_code == 422
    assert (
        await same_answer(paths, "POST", "/v1/credit-checks:batch", json={**body, "usccs": []}, headers=officer)
    ).status_code == 422


async def test_other_operations_still_go_through_the_framework(paths: Paths, auth: TokenFactory) -> None:
    r = await same_answer(paths, "GET", "/v1/credit-checks/overdue-feedback", headers=auth(*OFFICER, department=LAND))
    assert r.status_code == 200
    assert paths.audits["hot"][-1]["operation"] == "overdue_feedback"
