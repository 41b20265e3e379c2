"""The authorisation matrix, generated from the committed contract and checked against the table
in docs/authz.md: every operation × (no token, each single scope, the documented scope), and
own/other department where the table binds an operation to the owning department."""

from __future__ import annotations

import json
import pathlib
import re
import uuid

import httpx
import pytest

from services.credit.deps import SCOPES
from tests.credit.conftest import TokenFactory
from tests.credit.factories import new_uscc, unit_body
from tests.credit.records_factory import penalty
from tools.contract import contract_path

TABLE = pathlib.Path(__file__).resolve().parents[2] / "docs" / "authz.md"
ROW = re.compile(r"^\| (GET|POST|PUT|PATCH|DELETE) (\S+) \| (\S+) \| (.+) \|$")


def documented() -> dict[tuple[str, str], tuple[str | None, str]]:
    rows = {}
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        m = ROW.match(line.strip())
        if m:
            method, path, scope, rule = m.groups()
            rows[(method, path)] = (None if scope == "—" else scope, rule)
    return rows


def contract_operations() -> list[tuple[str, str, str | None]]:
    document = json.loads(contract_path("credit").read_text(encoding="utf-8"))
    out = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            scopes = [s for req in operation.get("security", []) for s in req.get("oauth2", [])]
            out.append((method.upper(), path, scopes[0] if scopes else None))
    return out


def test_table_and_contract_agree() -> None:
    table = documented()
    operations = {(m, p): s for m, p, s in contract_operations()}
    assert set(table) == set(operations), set(table) ^ set(operations)
    for key, scope in operations.items():
        assert table[key][0] == scope, f"{key}: contract needs {scope}, table says {table[key][0]}"
        assert scope is None or scope in SCOPES, f"{key}: scope {scope} is not declared"


def _concrete(path: str) -> str:
    return (
        path.replace("{uscc}", new_uscc())
        .replace("{record_id}", str(uuid.uuid4()))
        .replace("{check_id}", str(uuid.uuid4()))
        .replace("{listing_id}", str(uuid.uuid4()))
        .replace("{year}", "2026")
    )


@pytest.mark.parametrize(("method", "path", "scope"), [op for op in contract_operations() if op[2]])
async def test_every_operation_against_every_scope(
    client: httpx.AsyncClient, auth: TokenFactory, method: str, path: str, scope: str
) -> None:
    url = _concrete(path)
    body = {} if method in {"POST", "PUT", "PATCH"} else None
    anonymous = await client.request(method, url, json=body)
    assert anonymous.status_code == 401, (method, path, anonymous.text)
    for other in sorted(SCOPES):
        answer = await client.request(method, url, json=body, headers=auth(other))
        if other == scope:
            assert answer.status_code not in (401, 403), (method, path, other, answer.text)
        else:
            assert answer.status_code == 403, (method, path, other, answer.status_code)
            assert answer.json()["code"] == "insufficient_scope"


async def test_own_and_other_department_for_record_decisions(client: httpx.AsyncClient, auth: TokenFactory) -> None:
    unit = unit_body()
    await client.post("/v1/units", json=unit, headers=auth("units:write"))
    owner = auth("records:write", "records:read", department="yanji-fire")
    stranger = auth("records:write", "records:read", department="dunhua-fire")
    created = (await client.post("/v1/records", json=penalty(unit["uscc"]), headers=owner)).json()
    assert created["department"] == "yanji-fire"
    url = f"/v1/records/{created['id']}"
    correction = {"reason": "更正文书号笔误", "record": penalty(unit["uscc"], document_no=created["document_no"])}
    withdrawal = {"reason": "复议撤销", "revoked_by": "reconsideration", "revoked_on": "2026-11-01"}
    for action, body in ((":correct", correction), (":withdraw", withdrawal)):
        refused = await client.post(f"{url}{action}", json=body, headers={**stranger, "If-Match": '"1"'})
        assert refused.status_code == 403, refused.text
        assert refused.json()["code"] == "not_own_record"
    allowed = await client.post(f"{url}:correct", json=correction, headers={**owner, "If-Match": '"1"'})
    assert allowed.status_code == 200, allowed.text


async def test_own_and_other_department_for_check_feedback(client: httpx.AsyncClient, auth: TokenFactory) -> None:
    unit = unit_body()
    await client.post("/v1/units", json=unit, headers=auth("units:write"))
    owner = auth("checks:write", "checks:read", department="yanji-land")
    stranger = auth("checks:write", "checks:read", department="tumen-land")
    check = await client.post(
        "/v1/credit-checks",
        headers=owner,
        json={
            "uscc": unit["uscc"],
            "scenario": "land_use_approval",
            "case_ref": "延自然资地〔2026〕88号",
            "purpose": "国有建设用地使用权出让资格审查",
            "officer": "officer-7",
        },
    )
    assert check.status_code in (200, 201), check.text
    check_id = check.json()["id"] if "id" in check.json() else check.json()["check_id"]
    feedback = {"outcome": "approved", "decided_on": "2026-11-20", "officer": "officer-7"}
    refused = await client.post(f"/v1/credit-checks/{check_id}/feedback", json=feedback, headers=stranger)
    assert refused.status_code == 403, refused.text
    allowed = await client.post(f"/v1/credit-checks/{check_id}/feedback", json=feedback, headers=owner)
    assert allowed.status_code in (200, 201), allowed.text
