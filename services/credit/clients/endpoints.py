from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from fastapi import APIRouter, Form, Header
from pydantic import BaseModel

from services.credit.clients import service
from services.credit.deps import ContextDep, SessionDep
from services.kit.errors import FieldError, ProblemError, problem_responses
from services.kit.http import OrjsonResponse

router = APIRouter(prefix="/v1/oauth", tags=["auth"])


class TokenOut(BaseModel):
    access_token: str
    token_type: str
    expires_in: int
    scope: str


def _basic(authorization: str | None) -> tuple[str, str] | None:
    if not authorization or not authorization.lower().startswith("basic "):
        return None
    try:
        client_id, _, secret = base64.b64decode(authorization[6:]).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ProblemError(401, "invalid_client", "malformed Basic credentials") from exc
    return client_id, secret


@router.post(
    "/token",
    response_model=TokenOut,
    responses=problem_responses(400, 401, 403, 422),
    summary="OAuth2 client-credentials token (RFC 6749 §4.4)",
)
async def token(
    ctx: ContextDep,
    session: SessionDep,
    grant_type: Annotated[str, Form(max_length=50)],
    client_id: Annotated[str | None, Form(max_length=100)] = None,
    client_secret: Annotated[str | None, Form(max_length=200)] = None,
    scope: Annotated[str | None, Form(max_length=500)] = None,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> OrjsonResponse:
    if grant_type != "client_credentials":
        raise ProblemError(
            400,
            "unsupported_grant_type",
            "only client_credentials is supported",
            errors=[FieldError(field="body.grant_type", reason="must be client_credentials")],
        )
    basic = _basic(authorization)
    if basic:
        client_id, client_secret = basic
    if not client_id or not client_secret:
        raise ProblemError(
            401,
            "invalid_client",
            "client_id and client_secret are required",
            errors=[FieldError(field="body.client_id", reason="required")],
        )
    issued = await service.issue_token(
        ctx, session, client_id=client_id, client_secret=client_secret, requested_scope=scope
    )
    return OrjsonResponse(
        {
            "access_token": issued.access_token,
            "token_type": "Bearer",
            "expires_in": issued.expires_in,
            "scope": issued.scope,
        }
    )


class Jwks(BaseModel):
    keys: list[dict[str, Any]]


@router.get("/jwks", response_model=Jwks, summary="Public keys that verify credit's tokens (JWKS)")
async def jwks(ctx: ContextDep) -> OrjsonResponse:
    return OrjsonResponse(ctx.tokens.public_jwks(), headers={"Cache-Control": "public, max-age=300"})
