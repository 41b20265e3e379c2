"""Feedback (反馈) and effectiveness statistics: the rules; SQL in the repository."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from services.credit.checks import errors
from services.credit.checks import repository as repo
from services.credit.checks.schemas import FeedbackIn
from services.credit.context import CreditContext
from services.kit.auth import Principal


def _out(row: Any) -> dict[str, Any]:
    data = dict(row._mapping)
    data["check_id"] = str(data["check_id"])
    return data


async def record(
    ctx: CreditContext, session: AsyncSession, check_id: uuid.UUID, body: FeedbackIn, principal: Principal
) -> dict[str, Any]:
    check = await repo.check_for_feedback(session, check_id)
    if check is None:
        raise errors.check_not_found(check_id)
    if check.department != principal.department:
        raise errors.not_own_check(check_id)
    if check.has_feedback:
        raise errors.feedback_exists(check_id)
    today = ctx.today()
    if body.decided_on > today:
        raise errors.decided_in_future()
    returned = {m["id"] for m in (check.measures or [])}
    measures = []
    for i, m in enumerate(body.measures):
        if m.measure_id not in returned:
            raise errors.unknown_measure(i, m.measure_id)
        if not m.applied and not m.reason:
            raise errors.reason_required(i)
        measures.append(m.model_dump(mode="json"))
    applied = sum(1 for m in body.measures if m.applied)
    inserted = await repo.insert_feedback(
        session,
        {
            "check_id": check_id,
            "department": principal.department,
            "officer": body.officer,
            "outcome": body.outcome,
            "decided_on": body.decided_on,
            "measures": orjson.dumps(measures).decode(),
            "measures_applied": applied,
            "note": body.note,
            "client_id": principal.client_id,
            "on_time": today <= check.feedback_due,
        },
    )
    if not inserted:  # a concurrent feedback won the race
        raise errors.feedback_exists(check_id)
    row = await repo.get_feedback(session, check_id)
    assert row is not None
    return _out(row)


async def read(session: AsyncSession, check_id: uuid.UUID, principal: Principal) -> dict[str, Any]:
    row = await repo.get_feedback(session, check_id)
    if row is None:
        raise errors.check_not_found(check_id)
    if row.department != principal.department and not principal.has("admin"):
        raise errors.not_own_check(check_id)
    return _out(row)


async def statistics(
    ctx: CreditContext,
    session: AsyncSession,
    principal: Principal,
    date_from: dt.date,
    date_to: dt.date,
    department: str | None,
    scenario: str | None,
) -> dict[str, Any]:
    """A department sees its own figures; an admin (the credit office) sees every department's."""
    if not principal.has("admin"):
        if department is not None and department != principal.department:
            raise errors.other_department("query.department")
        department = principal.department
    rows = await repo.statistics(
        session,
        date_from=date_from,
        date_to=date_to,
        today=ctx.today(),
        department=department,
        scenario=scenario,
    )
    out = []
    for r in rows:
        d = dict(r._mapping)
        d["feedback_rate"] = round(d["feedback"] / d["checks"], 4) if d["checks"] else 0.0
        d["measures_applied"] = int(d["measures_applied"])
        out.append(d)
    return {"date_from": date_from, "date_to": date_to, "as_of": ctx.now(), "rows": out}
