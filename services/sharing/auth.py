"""Tokens are issued by credit; sharing verifies them with credit's public keys (JWKS), fetched at
start-up and again when a token names a key id sharing has not seen (key rotation)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import httpx
from joserfc.jwk import KeySet

from services.kit.auth import Principal, TokenService, unauthorised


@dataclass
class JwksVerifier:
    jwks_url: str
    issuer: str
    audience: str
    keys: KeySet | None = None
    _service: TokenService | None = None
    _fetched_at: float = 0.0
    transport: httpx.AsyncBaseTransport | None = field(default=None)

    async def refresh(self) -> None:
        if time.monotonic() - self._fetched_at < 10 and self._service is not None:
            return  # at most one fetch per 10 s, so bad tokens cannot hammer credit
        async with httpx.AsyncClient(timeout=10, transport=self.transport) as client:
            try:
                response = await client.get(self.jwks_url)
                response.raise_for_status()
            except httpx.HTTPError as exc:
                if self._service is None:
                    raise unauthorised(f"credit's keys are not reachable: {exc}") from exc
                return
        self.keys = KeySet.import_key_set(response.json())
        self._service = TokenService(keys=self.keys, issuer=self.issuer, audience=self.audience)
        self._fetched_at = time.monotonic()

    async def verify(self, token: str) -> Principal:
        if self._service is None:
            await self.refresh()
        assert self._service is not None
        try:
            return self._service.verify(token)
        except Exception:
            await self.refresh()  # a rotated key: fetch the key set once more and retry
            return self._service.verify(token)
