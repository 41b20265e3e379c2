"""All SQL of the change feed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, insert, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.credit.changes.models import Change

_changes = cast(Table, Change.__table__)


async def append_changes(session: AsyncSession, entries: list[dict[str, Any]]) -> None:
    """Feed entries are written in the same transaction as the change they describe."""
    if entries:
        await session.execute(insert(_changes), entries)


_READ = text(
    """
    SELECT id, txid::text AS txid, entity, entity_id, uscc, operation, version, data, occurred_at
    FROM credit.changes
    WHERE (txid, id) > (CAST(:txid AS xid8), :id)
      AND txid < pg_snapshot_xmin(pg_current_snapshot())
    ORDER BY txid, id
    LIMIT :limit
    """
).bindparams(bindparam("txid", type_=None), bindparam("id"), bindparam("limit"))


async def read_after(session: AsyncSession, *, txid: int, change_id: int, limit: int) -> Sequence[Row[Any]]:
    """Entries after the cursor, only from transactions older than every one still running: an entry
    whose transaction commits later than a newer one is not passed over, it is waited for."""
    result = await session.execute(_READ, {"txid": txid, "id": change_id, "limit": limit})
    return result.all()
