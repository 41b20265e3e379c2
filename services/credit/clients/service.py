"""API clients and OAuth2 client-credentials tokens. Secrets are stored as argon2 hashes."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.credit.clients.models import Client
from services.credit.context import CreditContext
from services.credit.deps import SCOPES
from services.kit.errors import FieldError, ProblemError

_hasher = PasswordHasher()
# verified against when the client id is unknown, so both paths cost the same time
_DUMMY_HASH = _hasher.hash("no-such-client")


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int
    scope: str


def validate_scopes(scopes: list[str]) -> list[str]:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ValueError(f"unknown scope(s): {', '.join(unknown)}; known: {', '.join(sorted(SCOPES))}")
    return sorted(set(scopes))


async def create_client(
    session: AsyncSession, *, client_id: str, name: str, department: str, scopes: list[str], secret: str | None = None
) -> str:
    """Register a client and return its secret (shown once)."""
    secret = secret or secrets.token_urlsafe(32)
    session.add(
        Client(
            client_id=client_id,
            name=name,
            department=department,
            scopes=validate_scopes(scopes),
            secret_hash=_hasher.hash(secret),
        )
    )
    await session.flush()
    return secret


async def revoke_client(session: AsyncSession, client_id: str) -> bool:
    result = await session.execute(
        update(Client)
        .where(Client.client_id == client_id, Client.active)
        .values(active=False)
        .returning(Client.client_id)
    )
    return result.first() is not None


async def revoked_client_ids(session: AsyncSession) -> set[str]:
    return set((await session.execute(select(Client.client_id).where(~Client.active))).scalars())


async def issue_token(
    ctx: CreditContext, session: AsyncSession, *, client_id: str, client_secret: str, requested_scope: str | None
) -> IssuedToken:
    client = (await session.execute(select(Client).where(Client.client_id == client_id))).scalar_one_or_none()
    try:
        _hasher.verify(client.secret_hash if client else _DUMMY_HASH, client_secret)
        ok = client is not None and client.active
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or client is None:
        raise ProblemError(
            401,
            "invalid_client",
            "unknown client, wrong secret or revoked client",
            headers={"WWW-Authenticate": 'Basic realm="fire-credit"'},
        )
    granted = set(client.scopes)
    if requested_scope:
        asked = set(requested_scope.split())
        beyond = sorted(asked - granted)
        if beyond:
            raise ProblemError(
                403,
                "invalid_scope",
                f"this client may not request: {', '.join(beyond)}",
                errors=[FieldError(field="body.scope", reason="beyond the client's scopes")],
            )
        granted = asked
    token, lifetime = ctx.tokens.issue(client_id=client.client_id, department=client.department, scopes=sorted(granted))
    return IssuedToken(access_token=token, expires_in=lifetime, scope=" ".join(sorted(granted)))
