"""Official Chinese working days: weekends and public holidays off, make-up working days (调休) on.

Pure and in memory. Years come from the `chinesecalendar` package (the known years) and from what an
administrator loaded into the database (a newly published State Council notice); a loaded year wins
over the package. A year nobody has published falls back to weekends only, and every deadline whose
counting touches such a year is marked provisional.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

DayKind = Literal["holiday", "workday"]


@dataclass(frozen=True, slots=True)
class YearDays:
    """One published year: its public holidays and its make-up working days, with their names."""

    year: int
    holidays: Mapping[dt.date, str]
    workdays: Mapping[dt.date, str]
    source: str


@dataclass(frozen=True, slots=True)
class Deadline:
    due: dt.date
    provisional: bool


@dataclass(frozen=True, slots=True)
class WorkCalendar:
    years: Mapping[int, YearDays] = field(default_factory=dict)

    def is_published(self, year: int) -> bool:
        return year in self.years

    def is_working_day(self, day: dt.date) -> bool:
        published = self.years.get(day.year)
        if published is not None:
            if day in published.workdays:
                return True
            if day in published.holidays:
                return False
        return day.weekday() < 5

    def add_working_days(self, start: dt.date, days: int) -> Deadline:
        """The date `days` working days after `start` (the start day itself is not counted, as with
        legal periods: a notice served on Friday with 1 working day is due the next working day)."""
        if days < 0:
            raise ValueError("days must not be negative")
        provisional = not self.is_published(start.year)
        current, left = start, days
        while left > 0:
            current += dt.timedelta(days=1)
            if not self.is_published(current.year):
                provisional = True
            if self.is_working_day(current):
                left -= 1
        return Deadline(current, provisional)

    def working_days_between(self, start: dt.date, end: dt.date) -> int:
        """Working days in (start, end]: how many working days of a period have elapsed by `end`."""
        count, current = 0, start
        while current < end:
            current += dt.timedelta(days=1)
            if self.is_working_day(current):
                count += 1
        return count

    def with_year(self, year: YearDays) -> WorkCalendar:
        return WorkCalendar({**self.years, year.year: year})


def package_years() -> dict[int, YearDays]:
    """The years the `chinesecalendar` package knows (official notices up to its release)."""
    import chinese_calendar

    version = getattr(chinese_calendar, "__version__", "?")
    holidays: dict[int, dict[dt.date, str]] = {}
    workdays: dict[int, dict[dt.date, str]] = {}
    for day, name in chinese_calendar.holidays.items():
        holidays.setdefault(day.year, {})[day] = str(name)
    for day, name in chinese_calendar.workdays.items():
        workdays.setdefault(day.year, {})[day] = str(name)
    return {
        year: YearDays(year, holidays.get(year, {}), workdays.get(year, {}), f"chinesecalendar {version}")
        for year in sorted(set(holidays) | set(workdays))
    }


def year_problems(year: int, days: Iterable[tuple[dt.date, DayKind]]) -> list[str]:
    """Why a year an administrator wants to load is implausible (empty list: fine)."""
    problems: list[str] = []
    seen: set[dt.date] = set()
    holidays = 0
    for day, kind in days:
        if day.year != year:
            problems.append(f"{day.isoformat()} is not in {year}")
        if day in seen:
            problems.append(f"{day.isoformat()} is listed twice")
        seen.add(day)
        if kind == "workday" and day.weekday() < 5:
            problems.append(
                f"{day.isoformat()} is a weekday: only a Saturday or Sunday can be a make-up working day"
            )
        if kind == "holiday":
            holidays += 1
    if holidays == 0:
        problems.append("a published year has at least one public holiday")
    return problems


def build_calendar(loaded: Iterable[YearDays] = ()) -> WorkCalendar:
    years = package_years()
    for year in loaded:
        years[year.year] = year
    return WorkCalendar(years)
