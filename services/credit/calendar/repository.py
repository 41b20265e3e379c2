"""All SQL of the working-day calendar."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncSession

YEARS_SQL = (
    "SELECT y.year, y.source, d.day, d.kind, d.name FROM credit.calendar_years y "
    "LEFT JOIN credit.calendar_days d ON d.year = y.year ORDER BY y.year, d.day"
)


async def loaded_rows(session: AsyncSession) -> Sequence[Row[Any]]:
    return (await session.execute(text(YEARS_SQL))).all()


async def replace_year(
    session: AsyncSession, year: int, source: str, actor: str, days: list[tuple[dt.date, str, str]]
) -> None:
    await session.execute(text("DELETE FROM credit.calendar_days WHERE year = :y"), {"y": year})
    await session.execute(
        text(
            "INSERT INTO credit.calendar_years (year, source, loaded_by) VALUES (:y, :s, :a) "
            "ON CONFLICT (year) DO UPDATE SET source = excluded.source, loaded_by = excluded.loaded_by, "
            "loaded_at = now()"
        ),
        {"y": year, "s": source, "a": actor},
    )
    await session.execute(
        text("INSERT INTO credit.calendar_days (day, year, kind, name) VALUES (:day, :year, :kind, :name)"),
        [{"day": d, "year": year, "kind": k, "name": n} for d, k, n in days],
    )
