from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from services.credit.changes.repository import read_after
from services.credit.changes.schemas import ChangePage
from services.credit.deps import ContextDep, SessionDep, require
from services.kit import cursor
from services.kit.auth import Principal
from services.kit.errors import problem_responses
from services.kit.http import OrjsonResponse

router = APIRouter(prefix="/v1/changes", tags=["changes"])
DEFAULT_LIMIT, MAX_LIMIT = 500, 5000


@router.get(
    "",
    response_model=ChangePage,
    responses=problem_responses(401, 403, 422),
    summary="Every change to units and records, in a stable order, resumable by cursor",
)
async def list_changes(
    ctx: ContextDep,
    session: SessionDep,
    _principal: Annotated[Principal, Depends(require("records:read"))],
    after: Annotated[
        str | None, Query(max_length=200, description="Cursor from the last page; omit to start at the beginning.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Default {DEFAULT_LIMIT}.")] = DEFAULT_LIMIT,
) -> OrjsonResponse:
    txid, change_id = cursor.decode("changes", after, 2, field="query.after") if after else (0, 0)
    rows = await read_after(session, txid=txid, change_id=change_id, limit=limit + 1)
    page = rows[:limit]
    if page:
        txid, change_id = int(page[-1].txid), page[-1].id
    items = [
        {
            "id": r.id,
            "entity": r.entity,
            "entity_id": r.entity_id,
            "uscc": r.uscc,
            "operation": r.operation,
            "version": r.version,
            "occurred_at": r.occurred_at.isoformat(),
            "data": r.data,
        }
        for r in page
    ]
    return OrjsonResponse(
        {
            "items": items,
            "next_cursor": cursor.encode("changes", txid, change_id),
            "has_more": len(rows) > limit,
            "as_of": ctx.now().isoformat(),
        }
    )
