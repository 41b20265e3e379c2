"""Typed dependencies every credit endpoint uses."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from services.credit.context import CreditContext
from services.kit.auth import Principal, forbidden_scope, unauthorised
from services.kit.db import transactional_session

SCOPES = {
    "units:read": "Read units and their responsible persons (id numbers masked).",
    "units:write": "Create, update and bulk-upsert units.",
    "units:override": "Register a USCC that fails its checksum (audited).",
    "records:read": "Read credit records, their history and the change feed.",
    "records:write": "Create, correct and withdraw the department's own credit records.",
    "pii:read": "See responsible persons' id numbers unmasked.",
    "admin": "Manage clients and policy.",
}

_bearer = HTTPBearer(auto_error=False, scheme_name="bearer", description="OAuth2 client-credentials JWT from `POST /v1/oauth/token`.")


def get_context(request: Request) -> CreditContext:
    ctx: CreditContext = request.app.state.ctx
    return ctx


ContextDep = Annotated[CreditContext, Depends(get_context)]


async def get_session(ctx: ContextDep) -> AsyncIterator[AsyncSession]:
    async for session in transactional_session(ctx.sessions):
        yield session


# scope="function": commit before the answer is sent, so a client never sees success for a rollback
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_principal(
    request: Request,
    ctx: ContextDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise unauthorised("a bearer token is required")
    principal = ctx.tokens.verify(credentials.credentials)
    revoked: set[str] = getattr(request.app.state, "revoked_clients", set())
    if principal.client_id in revoked:
        raise unauthorised("this client has been revoked")
    user = request.headers.get("x-user-id")
    case = request.headers.get("x-case-id")
    if user or case:
        principal = Principal(
            client_id=principal.client_id, department=principal.department, scopes=principal.scopes,
            token_id=principal.token_id, expires_at=principal.expires_at,
            user_id=(user or None) and user[:128], case_id=(case or None) and case[:128],
        )
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require(scope: str) -> Callable[..., Coroutine[Any, Any, Principal]]:
    async def check(principal: PrincipalDep) -> Principal:
        if not principal.has(scope):
            raise forbidden_scope(scope)
        return principal

    check.__name__ = f"require_{scope.replace(':', '_')}"
    return check
