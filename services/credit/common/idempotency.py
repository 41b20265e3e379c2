"""`Idempotency-Key` on creating POSTs: a retry with the same key and body gets the original answer;
the same key with another body is refused. Keys are per client and operation."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.credit.records.models import IdempotencyKey
from services.kit.errors import FieldError, ProblemError


@dataclass(frozen=True)
class StoredAnswer:
    status: int
    resource: str
    body: dict[str, Any]


def request_fingerprint(payload: Any) -> str:
    return hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()


async def reserve(
    session: AsyncSession, *, client_id: str, operation: str, key: str, fingerprint: str
) -> StoredAnswer | None:
    """Claim the key in this transaction, or return the answer stored under it.

    A concurrent request with the same key waits on the key's row until the first one ends."""
    if not key or len(key) > 200:
        raise ProblemError(
            422,
            "invalid_idempotency_key",
            "Idempotency-Key must be 1-200 characters",
            errors=[FieldError(field="header.Idempotency-Key", reason="1-200 characters")],
        )
    inserted = await session.execute(
        insert(IdempotencyKey)
        .values(
            client_id=client_id,
            operation=operation,
            key=key,
            request_hash=fingerprint,
            status=0,
            resource="",
            response={},
        )
        .on_conflict_do_nothing()
        .returning(IdempotencyKey.key)
    )
    if inserted.first() is not None:
        return None
    row = (
        await session.execute(
            select(
                IdempotencyKey.request_hash, IdempotencyKey.status, IdempotencyKey.resource, IdempotencyKey.response
            ).where(
                IdempotencyKey.client_id == client_id, IdempotencyKey.operation == operation, IdempotencyKey.key == key
            )
        )
    ).one()
    if row.request_hash != fingerprint:
        raise ProblemError(
            422,
            "idempotency_key_reused",
            "this Idempotency-Key was used with a different request body",
            errors=[FieldError(field="header.Idempotency-Key", reason="already used for another request")],
            existing=row.resource or None,
        )
    return StoredAnswer(status=row.status, resource=row.resource, body=row.response)


async def remember(
    session: AsyncSession, *, client_id: str, operation: str, key: str, status: int, resource: str, body: dict[str, Any]
) -> None:
    await session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.client_id == client_id, IdempotencyKey.operation == operation, IdempotencyKey.key == key)
        .values(status=status, resource=resource, response=body)
    )
