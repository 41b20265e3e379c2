from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from services.kit.errors import ProblemError, problem_responses
from services.sharing.deps import SessionDep, require
from services.sharing.ingest.models import SyncRun
from services.sharing.ingest.schemas import SyncRunOut, SyncRunPage
from services.sharing.pages import decode_cursor, encode_cursor
from services.sharing.readrepo import list_runs

router = APIRouter(prefix="/v1/sync-runs", tags=["sync runs"])
DEFAULT_PAGE = 50
MAX_PAGE = 500


@router.get("", response_model=SyncRunPage, responses=problem_responses(400, 401, 403, 422),
            dependencies=[Depends(require("sync:read"))], summary="Ingest runs, newest first")
async def runs(session: SessionDep, cursor: str | None = None, source: str | None = None,
               status: str | None = None,
               limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="default 50, at most 500")] = DEFAULT_PAGE,
               ) -> SyncRunPage:
    before = decode_cursor(cursor) if cursor else None
    rows = await list_runs(session, before=before, source=source, status=status, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return SyncRunPage(items=[_out(r) for r in rows], next_cursor=encode_cursor(rows[-1].id) if more else None,
                       as_of=dt.datetime.now(dt.UTC))


@router.get("/{run_id}", response_model=SyncRunOut, responses=problem_responses(401, 403, 404),
            dependencies=[Depends(require("sync:read"))], summary="One ingest run's report")
async def run(session: SessionDep, run_id: int) -> SyncRunOut:
    row = await session.get(SyncRun, run_id)
    if row is None:
        raise ProblemError(404, "run_not_found", f"no sync run {run_id}")
    return _out(row)


def _out(row: SyncRun) -> SyncRunOut:
    return SyncRunOut.model_validate(row, from_attributes=True)
