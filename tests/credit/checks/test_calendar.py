"""Working days: the 2026 National Day week, Spring Festival 2026, make-up Saturdays, unpublished years."""

from __future__ import annotations

import datetime as dt

import pytest

from services.credit.calendar.workdays import WorkCalendar, YearDays, build_calendar, year_problems

D = dt.date
CAL = build_calendar()


def test_2026_national_day_week_is_off_and_make_up_saturday_is_on() -> None:
    for day in range(1, 8):
        assert not CAL.is_working_day(D(2026, 10, day)), f"10-{day} is a holiday"
    assert CAL.is_working_day(D(2026, 10, 10))  # Saturday, make-up working day (调休)
    assert CAL.is_working_day(D(2026, 9, 20))  # Sunday, make-up working day
    assert not CAL.is_working_day(D(2026, 10, 11))  # an ordinary Sunday


def test_deadline_across_national_day() -> None:
    # Wednesday 30 Sep 2026 + 5 working days: 8 Oct (Thu), 9 Oct (Fri), 10 Oct (make-up Sat), 12, 13
    deadline = CAL.add_working_days(D(2026, 9, 30), 5)
    assert deadline.due == D(2026, 10, 13)
    assert not deadline.provisional


def test_spring_festival_2026() -> None:
    for day in range(15, 24):
        assert not CAL.is_working_day(D(2026, 2, day))
    assert CAL.is_working_day(D(2026, 2, 14))  # Saturday before the festival, make-up day
    assert CAL.is_working_day(D(2026, 2, 28))  # Saturday after, make-up day
    # Friday 13 Feb + 1 working day is the make-up Saturday 14 Feb; + 2 is Tuesday 24 Feb
    assert CAL.add_working_days(D(2026, 2, 13), 1).due == D(2026, 2, 14)
    assert CAL.add_working_days(D(2026, 2, 13), 2).due == D(2026, 2, 24)
    assert CAL.working_days_between(D(2026, 2, 13), D(2026, 2, 28)) == 6  # 14, 24, 25, 26, 27, 28


def test_unpublished_year_falls_back_to_weekends_and_is_provisional() -> None:
    year = max(CAL.years) + 1
    start = D(year, 1, 1)
    deadline = CAL.add_working_days(start, 5)
    assert deadline.provisional
    expected, left = start, 5
    while left:
        expected += dt.timedelta(days=1)
        left -= expected.weekday() < 5
    assert deadline.due == expected
    # a deadline counted inside a published year that runs into an unpublished one is provisional too
    assert CAL.add_working_days(D(year - 1, 12, 30), 3).provisional


def test_admin_loaded_year_replaces_fallback() -> None:
    year = max(CAL.years) + 1
    loaded = CAL.with_year(
        YearDays(year, {D(year, 1, 1): "元旦", D(year, 1, 2): "元旦"}, {D(year, 1, 4): "元旦"}, "admin")
    )
    assert not loaded.is_working_day(D(year, 1, 2)) or D(year, 1, 2).weekday() >= 5
    assert loaded.is_working_day(D(year, 1, 4))
    assert not loaded.add_working_days(D(year, 1, 5), 3).provisional


def test_year_problems() -> None:
    assert year_problems(2030, [(D(2030, 1, 1), "holiday"), (D(2030, 1, 5), "workday")]) == []
    problems = year_problems(2030, [(D(2031, 1, 1), "holiday"), (D(2030, 1, 2), "workday")])
    assert any("not in 2030" in p for p in problems)
    assert any("weekday" in p for p in problems)
    assert year_problems(2030, []) == ["a published year has at least one public holiday"]


def test_negative_days_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        WorkCalendar().add_working_days(D(2026, 1, 1), -1)
