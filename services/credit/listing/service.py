"""Serious-list rules: propose on a named ground with proving records, notify, object, list, remove.

Every transition is stored as an event (who decided, when, why), goes into the change feed as a
`listing` entry, and re-grades the unit in the same transaction.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import uuid
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from services.credit.calendar import service as calendar_service
from services.credit.changes.repository import append_changes
from services.credit.grades.service import regrade_units
from services.credit.listing import repository as repo
from services.credit.listing.lifecycle import (
    Entry,
    Event,
    ProvingRecord,
    TransitionError,
    ground_problems,
    transition,
)
from services.credit.listing.schemas import ProposeIn, TransitionIn
from services.credit.policy.checks_model import ChecksPolicy
from services.kit.auth import Principal
from services.kit.errors import FieldError, ProblemError
from services.kit.ids import new_uuid7

RIGHTS = (
    "当事人可在异议期内（自告知之日起{days}个工作日内，截至{until}）向作出决定的部门提出书面异议，陈述、申辩并提交证据；"
    "对列入决定不服的，可依法申请行政复议或者提起行政诉讼；列入后依法履行义务、纠正失信行为的，可申请信用修复。"
)


def _entry(row: Any) -> Entry:
    return Entry(
        state=row.state,
        objection=row.objection,
        notice_issued_on=row.notice_issued_on,
        objection_until=row.objection_until,
        objection_provisional=row.objection_provisional,
        listed_on=row.listed_on,
        list_until=row.list_until,
        ended_on=row.ended_on,
        end_reason=row.end_reason,
    )


def out(row: Any, events: list[Any] | None = None, notice: Any = None) -> dict[str, Any]:
    data = dict(row._mapping)
    data.pop("unit_id", None)
    data.pop("proposed_by", None)
    data["id"] = str(data["id"])
    data["record_ids"] = [str(r) for r in data["record_ids"]]
    data["events"] = [dict(e._mapping) for e in events or []]
    data["notice"] = (
        None
        if notice is None
        else {
            "id": str(notice.id),
            "document_no": notice.document_no,
            "issued_on": notice.issued_on,
            "content": notice.content,
            "content_hash": notice.content_hash,
            "issued_by": notice.issued_by,
        }
    )
    return data


async def propose(
    session: AsyncSession, body: ProposeIn, principal: Principal, *, policy: ChecksPolicy, today: dt.date
) -> uuid.UUID:
    ground = policy.listing.ground(body.ground)
    if ground is None:
        codes = ", ".join(g.code for g in policy.listing.grounds)
        reason = f"the policy names no ground {body.ground!r}; grounds: {codes}"
        raise ProblemError(
            422, "unknown_ground", reason, errors=[FieldError(field="body.ground", reason=reason)]
        )
    unit = await repo.unit(session, body.uscc)
    if unit is None:
        raise ProblemError(
            422,
            "unit_unknown",
            f"no unit {body.uscc}",
            errors=[FieldError(field="body.uscc", reason="no unit is registered under this USCC")],
        )
    if (body.subject_kind == "person") != (body.person_id is not None):
        raise ProblemError(
            422,
            "person_required",
            "a person listing names person_id; a unit listing does not",
            errors=[FieldError(field="body.person_id", reason="required exactly for subject person")],
        )
    if body.person_id is not None and not await repo.person_of_unit(session, unit.id, body.person_id):
        raise ProblemError(
            422,
            "person_unknown",
            "not a responsible person of this unit",
            errors=[FieldError(field="body.person_id", reason="not a person of this unit")],
        )
    rows = await repo.records(session, body.record_ids)
    found = {r.id for r in rows}
    missing = [str(i) for i in body.record_ids if str(i) not in found]
    proving = [ProvingRecord(r.id, r.unit_id, r.record_type, r.severity, r.state, r.body or {}) for r in rows]
    problems = [f"record {m} does not exist" for m in missing] + ground_problems(ground, unit.id, proving)
    if problems:
        raise ProblemError(
            422,
            "ground_not_proved",
            "; ".join(problems),
            errors=[FieldError(field="body.record_ids", reason=p) for p in problems],
        )
    listing_id = new_uuid7()
    await repo.insert(
        session,
        {
            "id": listing_id,
            "subject_kind": body.subject_kind,
            "unit_id": unit.id,
            "uscc": unit.uscc,
            "person_id": body.person_id,
            "ground": ground.code,
            "record_ids": [str(i) for i in body.record_ids],
            "reasons": body.reasons,
            "department": principal.department,
            "proposed_by": principal.client_id,
            "policy_version": policy.version,
        },
    )
    await _log(
        session,
        listing_id,
        unit.uscc,
        "propose",
        None,
        "proposed",
        today,
        principal.client_id,
        principal.department,
        body.reasons,
        1,
        {"ground": ground.code},
    )
    return listing_id


async def _log(
    session: AsyncSession,
    listing_id: uuid.UUID,
    uscc: str,
    event: str,
    from_state: str | None,
    to_state: str,
    today: dt.date,
    actor: str,
    department: str,
    reason: str | None,
    version: int,
    data: dict[str, Any],
) -> None:
    await repo.add_event(
        session,
        {
            "listing_id": listing_id,
            "event": event,
            "from_state": from_state,
            "to_state": to_state,
            "occurred_on": today,
            "actor": actor,
            "department": department,
            "reason": reason,
            "data": orjson.dumps(data).decode(),
        },
    )
    await append_changes(
        session,
        [
            {
                "entity": "listing",
                "entity_id": str(listing_id),
                "uscc": uscc,
                "operation": event,
                "version": version,
                "data": {
                    "state": to_state,
                    "from_state": from_state,
                    "occurred_on": today.isoformat(),
                    **data,
                },
            }
        ],
    )


async def apply(
    session: AsyncSession,
    listing_id: uuid.UUID,
    event: Event,
    *,
    today: dt.date,
    policy: ChecksPolicy,
    actor: str,
    department: str,
    reason: str | None,
    document_no: str | None = None,
    principal_department: str | None = None,
) -> None:
    row = await repo.get(session, listing_id, lock=True)
    if row is None:
        raise ProblemError(404, "listing_not_found", f"no serious-list entry {listing_id}")
    if principal_department is not None and row.department != principal_department:
        raise ProblemError(403, "not_own_listing", "only the department that proposed the listing decides it")
    cal = await calendar_service.current(session)
    try:
        new = transition(_entry(row), event, today=today, policy=policy, calendar=cal)
    except TransitionError as exc:
        raise ProblemError(409, exc.code, exc.detail) from exc
    changes = {
        f.name: getattr(new, f.name)
        for f in dataclasses.fields(new)
        if getattr(new, f.name) != getattr(row, f.name)
    }
    if changes:
        await repo.update(session, listing_id, changes)
    data: dict[str, Any] = {"ground": row.ground}
    if event == "issue_notice":
        ground = policy.listing.ground(row.ground)
        assert new.objection_until is not None
        content = {
            "title": "严重失信主体名单列入告知书",
            "uscc": row.uscc,
            "subject_kind": row.subject_kind,
            "ground": row.ground,
            "ground_label": ground.label if ground else row.ground,
            "basis": ground.basis if ground else "",
            "reasons": row.reasons,
            "records": [str(r) for r in row.record_ids],
            "listing_period": policy.listing.period,
            "objection_until": new.objection_until.isoformat(),
            "objection_provisional": new.objection_provisional,
            "rights": RIGHTS.format(
                days=policy.listing.objection_working_days, until=new.objection_until.isoformat()
            ),
            "issued_on": today.isoformat(),
            "department": row.department,
            "policy_version": policy.version,
        }
        raw = orjson.dumps(content, option=orjson.OPT_SORT_KEYS)
        await repo.add_notice(
            session,
            {
                "id": new_uuid7(),
                "listing_id": listing_id,
                "document_no": document_no or f"{row.department}-告知-{listing_id.hex[:8]}",
                "issued_on": today,
                "content": raw.decode(),
                "content_hash": hashlib.sha256(raw).hexdigest(),
                "issued_by": actor,
            },
        )
        data.update(
            objection_until=new.objection_until.isoformat(), objection_provisional=new.objection_provisional
        )
    if new.list_until:
        data["list_until"] = new.list_until.isoformat()
    if new.end_reason:
        data["end_reason"] = new.end_reason
    await _log(
        session,
        listing_id,
        row.uscc,
        event,
        row.state,
        new.state,
        today,
        actor,
        department,
        reason,
        row.version + 1,
        data,
    )
    if new.state != row.state and (new.state == "listed" or row.state == "listed"):
        await regrade_units(
            session, [row.unit_id], policy=policy, today=today, reason=f"listing:{event}", actor=actor
        )


async def manual(
    session: AsyncSession,
    listing_id: uuid.UUID,
    body: TransitionIn,
    principal: Principal,
    *,
    policy: ChecksPolicy,
    today: dt.date,
) -> None:
    await apply(
        session,
        listing_id,
        body.event,
        today=today,
        policy=policy,
        actor=principal.client_id,
        department=principal.department,
        reason=body.reason,
        document_no=body.document_no,
        principal_department=principal.department,
    )


async def remove_unproven(
    session: AsyncSession, unit_ids: list[int], *, policy: ChecksPolicy, today: dt.date, actor: str
) -> int:
    """Listings whose proving records have all been withdrawn end (removed, or cancelled before listing)."""
    ids = await repo.unproven(session, unit_ids)
    for listing_id in ids:
        await apply(
            session,
            listing_id,
            "record_withdrawn",
            today=today,
            policy=policy,
            actor=actor,
            department="system",
            reason="the records proving the ground were withdrawn",
        )
    return len(ids)


async def expire_due(
    session: AsyncSession, *, policy: ChecksPolicy, today: dt.date, limit: int = 1000
) -> int:
    ids = await repo.expired(session, today, limit)
    for listing_id in ids:
        await apply(
            session,
            listing_id,
            "expire",
            today=today,
            policy=policy,
            actor="nightly",
            department="system",
            reason="listing period over",
        )
    return len(ids)


async def read(session: AsyncSession, listing_id: uuid.UUID) -> dict[str, Any]:
    row = await repo.get(session, listing_id)
    if row is None:
        raise ProblemError(404, "listing_not_found", f"no serious-list entry {listing_id}")
    return out(row, list(await repo.events(session, listing_id)), await repo.notice(session, listing_id))
