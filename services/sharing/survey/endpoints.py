from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from services.kit.errors import problem_responses
from services.sharing.deps import SessionDep, require
from services.sharing.feeds.normalise import CHINA_TZ
from services.sharing.pages import decode_cursor, encode_cursor
from services.sharing.readrepo import list_survey
from services.sharing.survey.schemas import SurveyPage, SurveyUnitOut

router = APIRouter(prefix="/v1/survey-units", tags=["units to survey"])


@router.get("", response_model=SurveyPage, responses=problem_responses(400, 401, 403, 422),
            dependencies=[Depends(require("survey:read"))],
            summary="New or re-purposed units in fire-sensitive industries, by day")
async def survey_units(
    session: SessionDep,
    listed_on: Annotated[dt.date | None, Query(description="Day (CST); default today")] = None,
    region_code: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="default 100, at most 1000")] = 100,
) -> SurveyPage:
    day = listed_on or dt.datetime.now(CHINA_TZ).date()
    after = decode_cursor(cursor) if cursor else 0
    rows = await list_survey(session, listed_on=day, after=after, region_code=region_code, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return SurveyPage(items=[SurveyUnitOut.model_validate(r, from_attributes=True) for r in rows],
                      next_cursor=encode_cursor(rows[-1].id) if more else None, as_of=dt.datetime.now(dt.UTC))
