"""Typed dependencies every credit endpoint uses."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import replace
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.openapi.models import OAuthFlowClientCredentials
from fastapi.openapi.models import OAuthFlows as OAuthFlowsModel
from fastapi.security import OAuth2
from sqlalchemy.ext.asyncio import AsyncSession

from services.credit.context import CreditContext
from services.kit.audit import header_text
from services.kit.auth import Principal, forbidden_scope, unauthorised
from services.kit.db import transactional_session
from services.kit.errors import ProblemError

SCOPES = {
    "units:read": "Read one unit at a time and its responsible persons (id numbers masked).",
    "units:list": "List and search units wholesale (registry staff; approval officers do not get it).",
    "units:write": "Create, update and bulk-upsert units.",
    "units:override": "Register a USCC that fails its checksum (audited).",
    "records:read": "Read credit records, their history and the change feed.",
    "records:write": "Create, correct and withdraw the department's own credit records.",
    "pii:read": "See responsible persons' id numbers unmasked.",
    "checks:read": "Read credit checks, grades, measures, the calendar and statistics.",
    "checks:write": "Make credit checks for an approval case and record the feedback.",
    "listing:read": "Read the serious-dishonesty list and its history.",
    "listing:write": "Propose, notify, list and remove entries of the serious-dishonesty list.",
    "sync:read": "Read sharing's registry sync runs and their reports.",
    "survey:read": "Read the daily list of newly registered units in fire-sensitive industries.",
    "admin": "Manage clients, policy and the calendar; no data access by itself.",
}

# OAuth2 client credentials: the contract names the scope each operation needs
oauth2 = OAuth2(
    flows=OAuthFlowsModel(clientCredentials=OAuthFlowClientCredentials(tokenUrl="/v1/oauth/token", scopes=SCOPES)),
    scheme_name="oauth2",
    description="Client-credentials JWT from `POST /v1/oauth/token`, sent as `Authorization: Bearer <token>`.",
    auto_error=False,
)


async def get_context(request: Request) -> CreditContext:
    ctx: CreditContext = request.app.state.ctx
    return ctx


ContextDep = Annotated[CreditContext, Depends(get_context)]


async def get_session(ctx: ContextDep) -> AsyncIterator[AsyncSession]:
    async for session in transactional_session(ctx.sessions):
        yield session


# scope="function": commit before the answer is sent, so a client never sees success for a rollback
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


def authorise(request: Request, authorization: str | None, scopes: Sequence[str]) -> Principal:
    """Verify the bearer token, refuse revoked clients, apply the rate limit, check the scopes."""
    ctx: CreditContext = request.app.state.ctx
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise unauthorised("a bearer token is required")
    principal = ctx.tokens.verify(token.strip())
    request.state.principal = principal
    revoked: set[str] = getattr(request.app.state, "revoked_clients", set())
    if principal.client_id in revoked:
        raise unauthorised("this client has been revoked")
    wait = ctx.limiter.acquire(principal.client_id)
    if wait:
        raise ProblemError(
            429,
            "rate_limited",
            f"too many requests from {principal.client_id}; retry later",
            headers={"Retry-After": str(int(wait))},
        )
    for scope in scopes:
        if not principal.has(scope):
            raise forbidden_scope(scope)
    user = header_text(request.headers.get("x-user-id"))
    case = header_text(request.headers.get("x-case-id"))
    if user or case:
        principal = replace(principal, user_id=user[:128] if user else None, case_id=case[:128] if case else None)
    return principal


async def authenticated(request: Request, authorization: Annotated[str | None, Security(oauth2)]) -> Principal:
    return authorise(request, authorization, ())


PrincipalDep = Annotated[Principal, Depends(authenticated)]


def require(scope: str) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """`Annotated[Principal, Depends(require("units:read"))]`: authenticated and holding the scope;
    the scope is named in the operation's security requirement of the contract. One dependency
    level only: this runs on every request."""

    # a default, not an Annotated string: the scope is a closure value the annotation could not resolve
    async def holding(request: Request, authorization: str | None = Security(oauth2, scopes=[scope])) -> Principal:
        return authorise(request, authorization, (scope,))

    holding.__name__ = f"require_{scope.replace(':', '_')}"
    return holding
