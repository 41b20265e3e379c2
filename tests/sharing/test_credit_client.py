"""sharing's credit client: `:import` first; a credit that does not offer it yet is sent `:bulk-upsert`
batches of at most 10,000, and the answers are put back together in item order."""

from __future__ import annotations

import httpx
import orjson

from services.sharing.credit_api.client import BULK_UPSERT_MAX, CreditClient


def _answer(items: list[dict[str, str]]) -> dict[str, object]:
    results = [{"index": i, "uscc": it["uscc"], "outcome": "created", "version": 1, "errors": []}
               for i, it in enumerate(items)]
    return {"counts": {"created": len(items), "updated": 0, "unchanged": 0, "rejected": 0}, "results": results,
            "as_of": "2026-11-28T00:00:00Z"}


def _client(offers_import: bool, seen: list[tuple[str, int]]) -> CreditClient:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/oauth/token":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 300})
        items = orjson.loads(request.content)["items"]
        seen.append((request.url.path, len(items)))
        if request.url.path == "/v1/units:import" and not offers_import:
            return httpx.Response(404, json={"code": "not_found", "detail": "no such operation"},
                                  headers={"Content-Type": "application/problem+json"})
        return httpx.Response(200, content=orjson.dumps(_answer(items)))

    return CreditClient("http://credit.test", "sharing-sync", "secret", transport=httpx.MockTransport(handle))


def test_import_is_used_when_offered() -> None:
    seen: list[tuple[str, int]] = []
    items = [{"uscc": f"U{i:017d}"} for i in range(12_000)]
    result = _client(True, seen).import_units(items, request_id="r1")
    assert seen == [("/v1/units:import", 12_000)]
    assert [r.index for r in result.results] == list(range(12_000))


def test_older_credit_gets_bulk_upsert_batches_in_order() -> None:
    seen: list[tuple[str, int]] = []
    client = _client(False, seen)
    items = [{"uscc": f"U{i:017d}"} for i in range(12_000)]
    result = client.import_units(items, request_id="r1")
    assert seen == [("/v1/units:import", 12_000), ("/v1/units:bulk-upsert", BULK_UPSERT_MAX),
                    ("/v1/units:bulk-upsert", 2_000)]
    assert [r.index for r in result.results] == list(range(12_000))
    assert [r.uscc for r in result.results] == [i["uscc"] for i in items]
    assert result.counts["created"] == 12_000
    assert client.units_path() == "/v1/units:bulk-upsert"
    client.import_units(items[:10], request_id="r2")  # remembered: no second try of :import
    assert seen[-1] == ("/v1/units:bulk-upsert", 10)
