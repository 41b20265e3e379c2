"""The calendar every deadline uses: packaged years plus years an administrator loaded, cached per
process for a few minutes (a newly loaded year reaches every replica within CACHE_SECONDS)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.credit.calendar import repository as repo
from services.credit.calendar.workdays import DayKind, WorkCalendar, YearDays, build_calendar, year_problems
from services.kit.errors import FieldError, ProblemError

CACHE_SECONDS = 300.0
_cache: dict[str, Any] = {"calendar": None, "at": 0.0}


def from_rows(rows: Iterable[Any]) -> WorkCalendar:
    years: dict[int, tuple[str, dict[dt.date, str], dict[dt.date, str]]] = {}
    for r in rows:
        _source, holidays, workdays = years.setdefault(r[0], (r[1], {}, {}))
        day, kind, name = r[2], r[3], r[4]
        if day is not None:
            (holidays if kind == "holiday" else workdays)[day] = name
    return build_calendar(YearDays(y, h, w, s) for y, (s, h, w) in years.items())


def cached() -> WorkCalendar | None:
    cal: WorkCalendar | None = _cache["calendar"]
    if cal is not None and time.monotonic() - float(_cache["at"]) < CACHE_SECONDS:
        return cal
    return None


def remember(cal: WorkCalendar) -> WorkCalendar:
    _cache["calendar"], _cache["at"] = cal, time.monotonic()
    return cal


def invalidate() -> None:
    _cache["calendar"] = None


async def current(session: AsyncSession) -> WorkCalendar:
    return cached() or remember(from_rows(await repo.loaded_rows(session)))


async def load_year(
    session: AsyncSession, year: int, days: list[tuple[dt.date, DayKind, str]], *, source: str, actor: str
) -> WorkCalendar:
    problems = year_problems(year, [(d, k) for d, k, _ in days])
    if problems:
        raise ProblemError(
            422,
            "implausible_calendar_year",
            "; ".join(problems),
            errors=[FieldError(field="body.days", reason=p) for p in problems],
        )
    await repo.replace_year(session, year, source, actor, [(d, k, n) for d, k, n in days])
    invalidate()
    return await current(session)
