"""sharing's committed contract is the source of truth too: the app must serve exactly it."""

from __future__ import annotations

import json

from tools.contract import app_document, contract_path


def test_app_serves_the_committed_contract() -> None:
    committed = json.loads(contract_path("sharing").read_text(encoding="utf-8"))
    assert app_document("sharing") == committed, (
        "the app's OpenAPI differs from contracts/sharing/v1/openapi.json; review the change, then run "
        "`python -m tools.contract export sharing`"
    )


def test_contract_is_compatible_with_released_versions() -> None:
    from tools.contract import incompatibilities

    committed = json.loads(contract_path("sharing").read_text(encoding="utf-8"))
    released = sorted((contract_path("sharing").parent / "released").glob("*.json"))
    assert released, "at least the first release is frozen in contracts/sharing/v1/released/"
    for path in released:
        assert incompatibilities(json.loads(path.read_text(encoding="utf-8")), committed) == [], path.name
