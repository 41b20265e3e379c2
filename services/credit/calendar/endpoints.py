from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Path

from services.credit.calendar import service
from services.credit.calendar.schemas import YearIn
from services.credit.calendar.workdays import DayKind
from services.credit.deps import SessionDep, require
from services.kit.auth import Principal
from services.kit.errors import problem_responses
from services.kit.http import OrjsonResponse

router = APIRouter(tags=["calendar"])
Year = Annotated[int, Path(ge=2000, le=2100)]


def _year_out(cal: object, year: int) -> dict[str, object]:
    from services.credit.calendar.workdays import WorkCalendar

    assert isinstance(cal, WorkCalendar)
    y = cal.years.get(year)
    return {
        "year": year,
        "published": y is not None,
        "source": y.source if y else None,
        "note": None if y else "not published: weekends only, deadlines counted in it are provisional",
        "holidays": {d.isoformat(): n for d, n in sorted(y.holidays.items())} if y else {},
        "workdays": {d.isoformat(): n for d, n in sorted(y.workdays.items())} if y else {},
    }


@router.get(
    "/v1/calendar/{year}",
    responses=problem_responses(401, 422),
    summary="Official holidays and make-up working days of a year",
)
async def get_year(
    year: Year, session: SessionDep, reader: Annotated[Principal, Depends(require("checks:read"))]
) -> OrjsonResponse:
    return OrjsonResponse(_year_out(await service.current(session), year))


@router.put(
    "/v1/calendar/{year}",
    responses=problem_responses(401, 403, 422),
    summary="Load a newly published year (administrators)",
)
async def put_year(
    year: Year, body: YearIn, session: SessionDep, principal: Annotated[Principal, Depends(require("admin"))]
) -> OrjsonResponse:
    days: list[tuple[dt.date, DayKind, str]] = [(d.day, d.kind, d.name) for d in body.days]
    cal = await service.load_year(session, year, days, source=body.source, actor=principal.client_id)
    return OrjsonResponse(_year_out(cal, year))
