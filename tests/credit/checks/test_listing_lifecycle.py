"""Serious-list lifecycle as a pure state machine, on the official working-day calendar."""

from __future__ import annotations

import datetime as dt

import pytest

from services.credit.calendar.workdays import build_calendar
from services.credit.listing.lifecycle import (
    Entry,
    ProvingRecord,
    TransitionError,
    ground_problems,
    transition,
)
from services.credit.policy.checks_model import default_checks_policy

D = dt.date
POLICY = default_checks_policy()
CAL = build_calendar()


def step(entry: Entry, event: str, today: dt.date) -> Entry:
    return transition(entry, event, today=today, policy=POLICY, calendar=CAL)  # type: ignore[arg-type]


def test_full_lifecycle_through_national_day() -> None:
    e = step(Entry(), "issue_notice", D(2026, 9, 28))
    # 10 working days from Mon 28 Sep: 29, 30, 8 Oct, 9, 10 (make-up Sat), 12, 13, 14, 15, 16
    assert e.state == "notice_issued"
    assert e.objection_until == D(2026, 10, 16)
    assert not e.objection_provisional
    with pytest.raises(TransitionError) as err:
        step(e, "list", D(2026, 10, 16))
    assert err.value.code == "objection_window_open"
    listed = step(e, "list", D(2026, 10, 17))
    assert listed.state == "listed"
    assert listed.list_until == D(2029, 10, 17)
    with pytest.raises(TransitionError, match="runs until"):
        step(listed, "expire", D(2029, 10, 16))
    removed = step(listed, "expire", D(2029, 10, 17))
    assert (removed.state, removed.end_reason) == ("removed", "expired")


def test_objection_blocks_listing_until_decided() -> None:
    e = step(Entry(), "issue_notice", D(2026, 3, 2))
    e = step(e, "lodge_objection", D(2026, 3, 3))
    with pytest.raises(TransitionError) as err:
        step(e, "list", D(2026, 4, 1))
    assert err.value.code == "objection_pending"
    upheld = step(e, "uphold_objection", D(2026, 3, 5))
    assert (upheld.state, upheld.end_reason) == ("cancelled", "objection_upheld")
    rejected = step(e, "reject_objection", D(2026, 3, 5))
    assert step(rejected, "list", D(2026, 4, 1)).state == "listed"


def test_objection_after_window_refused() -> None:
    e = step(Entry(), "issue_notice", D(2026, 3, 2))
    with pytest.raises(TransitionError) as err:
        step(e, "lodge_objection", D(2026, 4, 30))
    assert err.value.code == "objection_window_closed"


def test_record_withdrawn_and_early_repair() -> None:
    listed = step(step(Entry(), "issue_notice", D(2026, 3, 2)), "list", D(2026, 4, 1))
    assert step(listed, "record_withdrawn", D(2026, 5, 1)).end_reason == "record_withdrawn"
    with pytest.raises(TransitionError, match="from 2027-04-01"):
        step(listed, "early_repair", D(2027, 3, 31))
    assert step(listed, "early_repair", D(2027, 4, 1)).end_reason == "early_repair"
    assert step(Entry(), "record_withdrawn", D(2026, 3, 1)).state == "cancelled"


def test_transition_not_allowed() -> None:
    with pytest.raises(TransitionError) as err:
        step(Entry(), "list", D(2026, 3, 1))
    assert err.value.code == "listing_transition_not_allowed"


def test_unpublished_year_makes_window_provisional() -> None:
    year = max(CAL.years) + 1
    assert step(Entry(), "issue_notice", D(year, 3, 2)).objection_provisional


def test_grounds_need_proving_records() -> None:
    ground = POLICY.listing.ground("fire_with_deaths")
    assert ground is not None
    fire = ProvingRecord("r1", 7, "fire_incident", "serious", "active", {"details": {"deaths": 2}})
    assert ground_problems(ground, 7, [fire]) == []
    no_deaths = ProvingRecord("r2", 7, "fire_incident", "serious", "active", {"details": {"deaths": 0}})
    assert "details.deaths ≥ 1" in ground_problems(ground, 7, [no_deaths])[0]
    assert "another unit" in ground_problems(ground, 8, [fire])[0]
    withdrawn = ProvingRecord("r3", 7, "fire_incident", "serious", "withdrawn", {"details": {"deaths": 1}})
    assert "withdrawn" in ground_problems(ground, 7, [withdrawn])[0]
    assert ground_problems(ground, 7, []) != []
