"""credit's API as sharing uses it (contract `contracts/credit/v1/openapi.json`): OAuth2 client
credentials and the bulk unit writes (`:import`, else `:bulk-upsert`). sharing never imports credit's
code nor reads its tables."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

BULK_UPSERT_PATH = "/v1/units:bulk-upsert"
BULK_UPSERT_MAX = 10_000
IMPORT_PATH = "/v1/units:import"


class CreditUnavailable(Exception):
    """credit could not be reached or answered 5xx/429: retry later, nothing is lost."""


class CreditRefused(Exception):
    """credit refused the request as a whole (4xx problem): retrying the same request will not help."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        super().__init__(f"credit answered {status}: {problem.get('code')}: {problem.get('detail')}")
        self.status = status
        self.problem = problem


@dataclass(slots=True)
class ItemResult:
    """One item's answer (slots, built positionally: thousands per batch are built and read once)."""

    index: int
    uscc: str
    outcome: str
    version: int | None
    errors: list[dict[str, str]]


@dataclass
class BulkResult:
    counts: dict[str, int]
    results: list[ItemResult]


@dataclass
class CreditClient:
    base_url: str
    client_id: str
    client_secret: str
    timeout: float = 60.0
    transport: httpx.BaseTransport | None = None
    import_missing: bool = False
    _token: str | None = None
    _token_expires: float = 0.0
    _http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self._http = httpx.Client(base_url=self.base_url.rstrip("/"), timeout=self.timeout, transport=self.transport)

    def close(self) -> None:
        self._http.close()

    def _post(self, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.post(path, **kwargs)
        except httpx.HTTPError as exc:
            raise CreditUnavailable(f"credit at {self.base_url} unreachable: {type(exc).__name__}: {exc}") from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise CreditUnavailable(f"credit answered {response.status_code}")
        return response

    def token(self, *, refresh: bool = False) -> str:
        if self._token and not refresh and time.monotonic() < self._token_expires:
            return self._token
        response = self._post("/v1/oauth/token", data={
            "grant_type": "client_credentials", "client_id": self.client_id, "client_secret": self.client_secret,
        })
        if response.status_code != 200:
            raise CreditRefused(response.status_code, _problem(response))
        body = response.json()
        self._token = str(body["access_token"])
        self._token_expires = time.monotonic() + max(30, int(body.get("expires_in", 300)) - 30)
        return self._token

    def bulk_upsert(self, items: list[dict[str, Any]], *, request_id: str) -> BulkResult:
        """`POST /v1/units:bulk-upsert` (at most 10,000 items)."""
        return self._bulk(BULK_UPSERT_PATH, items, request_id=request_id)

    def import_units(self, items: list[dict[str, Any]], *, request_id: str) -> BulkResult:
        """`POST /v1/units:import`: the same items and answers, written set-based by credit (at most
        20,000 items). A credit that does not offer it yet (404/405) is sent `:bulk-upsert` batches
        of 10,000 instead, from then on; the answers are the same."""
        if not self.import_missing:
            try:
                return self._bulk(IMPORT_PATH, items, request_id=request_id)
            except CreditRefused as exc:
                if exc.status not in (404, 405):
                    raise
                self.import_missing = True
        parts = [self._bulk(BULK_UPSERT_PATH, items[i:i + BULK_UPSERT_MAX], request_id=f"{request_id}-{i}")
                 for i in range(0, len(items), BULK_UPSERT_MAX)]
        results = [ItemResult(index=offset + r.index, uscc=r.uscc, outcome=r.outcome, version=r.version,
                              errors=r.errors)
                   for offset, part in zip(range(0, len(items), BULK_UPSERT_MAX), parts, strict=True)
                   for r in part.results]
        counts: dict[str, int] = {}
        for part in parts:
            for k, v in part.counts.items():
                counts[k] = counts.get(k, 0) + v
        return BulkResult(counts=counts, results=results)

    def units_path(self) -> str:
        """The operation forwarding uses (named in quarantine entries of rejected items)."""
        return BULK_UPSERT_PATH if self.import_missing else IMPORT_PATH

    def _bulk(self, path: str, items: list[dict[str, Any]], *, request_id: str) -> BulkResult:
        payload = orjson.dumps({"items": items})
        for attempt in (1, 2):
            headers = {
                "Authorization": f"Bearer {self.token(refresh=attempt == 2)}",
                "Content-Type": "application/json",
                "X-Request-ID": request_id,
            }
            response = self._post(path, content=payload, headers=headers)
            if response.status_code == 401 and attempt == 1:
                continue  # token expired or keys rotated: fetch a new one once
            if response.status_code != 200:
                raise CreditRefused(response.status_code, _problem(response))
            body = orjson.loads(response.content)
            results = [
                ItemResult(int(r["index"]), str(r["uscc"]), str(r["outcome"]), r.get("version"), r.get("errors") or [])
                for r in body["results"]
            ]
            return BulkResult(counts=dict(body.get("counts", {})), results=results)
        raise CreditRefused(401, {"code": "unauthenticated", "detail": "token refused twice"})


def _problem(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {"code": "http_error", "detail": response.text[:300]}
    return body if isinstance(body, dict) else {"code": "http_error", "detail": str(body)[:300]}
