"""The serious-list (严重失信主体名单) lifecycle as a pure state machine.

    proposed ─issue_notice─▶ notice_issued ─list (window over, no objection pending)─▶ listed
    notice_issued: lodge_objection / reject_objection keep the state; uphold_objection ─▶ cancelled
    proposed | notice_issued ─cancel─▶ cancelled;  record_withdrawn before listing ─▶ cancelled
    listed ─expire (period over) | record_withdrawn | early_repair (after the minimum)─▶ removed

Every transition yields an event (who, when, why) that the service stores, audits and puts in the
change feed. `early_repair` is in place for the credit-repair capability; no endpoint drives it yet.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from services.credit.calendar.workdays import WorkCalendar
from services.credit.policy.checks_model import ChecksPolicy, Ground
from services.credit.policy.model import add_duration

State = Literal["proposed", "notice_issued", "listed", "removed", "cancelled"]
Event = Literal[
    "propose",
    "issue_notice",
    "lodge_objection",
    "reject_objection",
    "uphold_objection",
    "list",
    "cancel",
    "expire",
    "record_withdrawn",
    "early_repair",
]
ObjectionState = Literal["none", "pending", "rejected", "upheld"]
ACTIVE_STATES: frozenset[str] = frozenset({"proposed", "notice_issued", "listed"})

_ALLOWED: dict[str, frozenset[str]] = {
    "issue_notice": frozenset({"proposed"}),
    "lodge_objection": frozenset({"notice_issued"}),
    "reject_objection": frozenset({"notice_issued"}),
    "uphold_objection": frozenset({"notice_issued"}),
    "list": frozenset({"notice_issued"}),
    "cancel": frozenset({"proposed", "notice_issued"}),
    "expire": frozenset({"listed"}),
    "record_withdrawn": frozenset({"proposed", "notice_issued", "listed"}),
    "early_repair": frozenset({"listed"}),
}


class TransitionError(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Entry:
    state: State = "proposed"
    objection: ObjectionState = "none"
    notice_issued_on: dt.date | None = None
    objection_until: dt.date | None = None
    objection_provisional: bool = False
    listed_on: dt.date | None = None
    list_until: dt.date | None = None
    ended_on: dt.date | None = None
    end_reason: str | None = None


def transition(
    entry: Entry,
    event: Event,
    *,
    today: dt.date,
    policy: ChecksPolicy,
    calendar: WorkCalendar,
) -> Entry:
    """The entry after `event` on `today`, or TransitionError saying why the event is not allowed."""
    allowed = _ALLOWED.get(event)
    if allowed is None:
        raise TransitionError("listing_event_unknown", f"unknown event {event!r}")
    if entry.state not in allowed:
        raise TransitionError(
            "listing_transition_not_allowed", f"{event} is not allowed in state {entry.state}"
        )
    lp = policy.listing
    if event == "issue_notice":
        deadline = calendar.add_working_days(today, lp.objection_working_days)
        return replace(
            entry,
            state="notice_issued",
            notice_issued_on=today,
            objection_until=deadline.due,
            objection_provisional=deadline.provisional,
        )
    if event == "lodge_objection":
        assert entry.objection_until is not None
        if today > entry.objection_until:
            raise TransitionError(
                "objection_window_closed",
                f"the objection window closed on {entry.objection_until.isoformat()}",
            )
        if entry.objection == "pending":
            raise TransitionError("objection_pending", "an objection is already pending")
        return replace(entry, objection="pending")
    if event in ("reject_objection", "uphold_objection"):
        if entry.objection != "pending":
            raise TransitionError("no_objection_pending", "there is no pending objection to decide")
        if event == "reject_objection":
            return replace(entry, objection="rejected")
        return replace(
            entry, state="cancelled", objection="upheld", ended_on=today, end_reason="objection_upheld"
        )
    if event == "list":
        assert entry.objection_until is not None
        if today <= entry.objection_until:
            raise TransitionError(
                "objection_window_open",
                f"the objection window runs until {entry.objection_until.isoformat()} (working days)",
            )
        if entry.objection == "pending":
            raise TransitionError("objection_pending", "decide the pending objection before listing")
        return replace(entry, state="listed", listed_on=today, list_until=add_duration(today, lp.period))
    if event == "cancel":
        return replace(entry, state="cancelled", ended_on=today, end_reason="cancelled")
    if event == "expire":
        assert entry.list_until is not None
        if today < entry.list_until:
            raise TransitionError(
                "listing_not_expired", f"the listing runs until {entry.list_until.isoformat()}"
            )
        return replace(entry, state="removed", ended_on=today, end_reason="expired")
    if event == "record_withdrawn":
        state: State = "removed" if entry.state == "listed" else "cancelled"
        return replace(entry, state=state, ended_on=today, end_reason="record_withdrawn")
    # early_repair: credit repair after the policy's minimum listing time
    assert entry.listed_on is not None
    earliest = add_duration(entry.listed_on, lp.early_repair_after)
    if today < earliest:
        raise TransitionError(
            "early_repair_too_soon", f"early removal is possible from {earliest.isoformat()}"
        )
    return replace(entry, state="removed", ended_on=today, end_reason="early_repair")


@dataclass(frozen=True, slots=True)
class ProvingRecord:
    id: str
    unit_id: int
    record_type: str
    severity: str
    state: str
    body: Mapping[str, Any]


def ground_problems(ground: Ground, unit_id: int, records: Sequence[ProvingRecord]) -> list[str]:
    """Why these records do not prove the ground for this unit (empty: they do).
    At least one record must satisfy every condition; each named record must belong to the unit and
    be active."""
    problems: list[str] = []
    if not records:
        return ["a listing needs at least one record that proves its ground"]
    proving = 0
    for r in records:
        if r.unit_id != unit_id:
            problems.append(f"record {r.id} belongs to another unit")
            continue
        if r.state != "active":
            problems.append(f"record {r.id} is {r.state}")
            continue
        ok = r.record_type in ground.record_types
        ok = ok and (ground.severity is None or r.severity == ground.severity)
        for key, minimum in ground.body_min.items():
            value = _dig(r.body, key)
            ok = ok and isinstance(value, int | float) and not isinstance(value, bool) and value >= minimum
        proving += ok
    if proving == 0 and not problems:
        need = f"a record of type {' or '.join(ground.record_types)}"
        if ground.severity:
            need += f" with severity {ground.severity}"
        for key, minimum in ground.body_min.items():
            need += f" with {key} ≥ {minimum:g}"
        problems.append(f"ground {ground.code} needs {need}")
    return problems


def _dig(body: Mapping[str, Any], dotted: str) -> object:
    value: object = body
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value
