"""Request dependencies: the transaction-owning session and the authenticated principal."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.auth import Principal, forbidden_scope, unauthorised
from services.kit.db import transactional_session

SCOPES = {
    "sync:read": "Read sync runs (ingest reports) and quarantined rows.",
    "survey:read": "Read the daily list of new or re-purposed units in fire-sensitive industries.",
}
_bearer = HTTPBearer(auto_error=False, scheme_name="bearer",
                     description="JWT issued by credit's `POST /v1/oauth/token`, verified with credit's JWKS.")


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async for session in transactional_session(request.app.state.sessions):
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def get_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    if credentials is None:
        raise unauthorised("a bearer token is required")
    verifier = request.app.state.tokens
    principal: Principal = await verifier.verify(credentials.credentials)
    return principal


def require(scope: str) -> Callable[..., object]:
    async def check(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if not principal.has(scope):
            raise forbidden_scope(scope)
        return principal

    return check
