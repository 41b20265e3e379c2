"""The committed contract is the source of truth: the app must serve exactly it, and it must stay
compatible with every released version of its major."""

from __future__ import annotations

import json

from services.credit.app import create_app
from tools.contract import contract_path, incompatibilities

RELEASED = contract_path("credit").parent / "released"


def test_app_serves_the_committed_contract() -> None:
    committed = json.loads(contract_path("credit").read_text(encoding="utf-8"))
    served = json.loads(json.dumps(create_app().openapi()))
    assert served == committed, (
        "the app's OpenAPI differs from contracts/credit/v1/openapi.json; review the change, then run "
        "`python -m tools.contract export credit` and `python -m tools.contract compat credit`"
    )


def test_contract_is_compatible_with_released_versions() -> None:
    committed = json.loads(contract_path("credit").read_text(encoding="utf-8"))
    released = sorted(RELEASED.glob("*.json"))
    assert released, "at least the first release is frozen in contracts/credit/v1/released/"
    for path in released:
        assert incompatibilities(json.loads(path.read_text(encoding="utf-8")), committed) == [], path.name


def test_compat_checker_catches_a_breaking_change() -> None:
    committed = json.loads(contract_path("credit").read_text(encoding="utf-8"))
    broken = json.loads(json.dumps(committed))
    del broken["paths"]["/v1/changes"]
    broken["components"]["schemas"]["UnitOut"]["properties"].pop("name")
    broken["components"]["schemas"]["UnitIn"]["required"].append("address")
    problems = "\n".join(incompatibilities(committed, broken))
    assert "/v1/changes: path removed" in problems
    assert "response fields removed ['name']" in problems
    assert "request gained required fields ['address']" in problems


def test_every_operation_but_health_and_token_requires_a_scope() -> None:
    committed = json.loads(contract_path("credit").read_text(encoding="utf-8"))
    open_paths = {"/healthz", "/readyz", "/v1/oauth/token", "/v1/oauth/jwks"}
    for path, operations in committed["paths"].items():
        for method, operation in operations.items():
            if path in open_paths:
                continue
            assert operation.get("security"), f"{method.upper()} {path} has no security requirement"
            assert all(req.get("oauth2") for req in operation["security"]), f"{method.upper()} {path} names no scope"


def test_every_error_response_is_problem_json() -> None:
    committed = json.loads(contract_path("credit").read_text(encoding="utf-8"))
    for path, operations in committed["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status.isdigit() and int(status) >= 400:
                    assert list(response.get("content", {})) == ["application/problem+json"], (method, path, status)
