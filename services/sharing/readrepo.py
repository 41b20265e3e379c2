"""Reads the API makes (SQLAlchemy async)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.sharing.ingest.models import SyncRun
from services.sharing.survey.models import SurveyUnit


async def list_runs(session: AsyncSession, *, before: int | None, source: str | None, status: str | None,
                    limit: int) -> Sequence[SyncRun]:
    query = select(SyncRun).order_by(SyncRun.id.desc()).limit(limit)
    if before is not None:
        query = query.where(SyncRun.id < before)
    if source:
        query = query.where(SyncRun.source == source)
    if status:
        query = query.where(SyncRun.status == status)
    return (await session.execute(query)).scalars().all()


async def list_survey(session: AsyncSession, *, listed_on: dt.date, after: int, region_code: str | None,
                      limit: int) -> Sequence[SurveyUnit]:
    query = (select(SurveyUnit).where(SurveyUnit.listed_on == listed_on, SurveyUnit.id > after)
             .order_by(SurveyUnit.id).limit(limit))
    if region_code:
        query = query.where(SurveyUnit.region_code == region_code)
    return (await session.execute(query)).scalars().all()
