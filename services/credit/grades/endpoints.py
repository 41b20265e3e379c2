from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from services.credit.deps import ContextDep, SessionDep, require
from services.credit.grades import repository as repo
from services.credit.grades.service import evaluate_units
from services.credit.policy.checks_model import default_checks_policy
from services.kit import cursor
from services.kit.auth import Principal
from services.kit.errors import ProblemError, problem_responses
from services.kit.http import OrjsonResponse
from services.kit.ids import normalise_code

router = APIRouter(tags=["grades"])
ReadGrades = Annotated[Principal, Depends(require("records:read"))]


async def _unit(session: SessionDep, uscc: str) -> Any:
    row = await repo.current_grade(session, normalise_code(uscc))
    if row is None:
        raise ProblemError(404, "unit_not_found", f"no unit {uscc}")
    return row


@router.get(
    "/v1/units/{uscc}/grade",
    responses=problem_responses(401, 403, 404, 422),
    summary="The unit's grade (A/B/C/D) with its explanation and policy version",
)
async def grade(uscc: str, ctx: ContextDep, session: SessionDep, reader: ReadGrades) -> OrjsonResponse:
    row = await _unit(session, uscc)
    today = ctx.today()
    fresh = (
        row.grade is not None and not row.stale and (row.next_change_on is None or row.next_change_on > today)
    )
    if fresh:
        explanation = row.explanation
    else:  # a record change not yet re-graded, a boundary passed before the nightly run, or never graded
        results = await evaluate_units(session, [row.unit_id], default_checks_policy(), today)
        explanation = results[row.unit_id].explanation()
    return OrjsonResponse({"uscc": row.uscc, **explanation, "as_of": ctx.now().isoformat()})


@router.get(
    "/v1/units/{uscc}/grade-history",
    responses=problem_responses(401, 403, 404, 422),
    summary="Every grade the unit received, oldest first",
)
async def grade_history(
    uscc: str,
    ctx: ContextDep,
    session: SessionDep,
    reader: ReadGrades,
    limit: Annotated[int, Query(ge=1, le=500, description="Page size, default 100.")] = 100,
    cursor_: Annotated[str | None, Query(alias="cursor", max_length=200)] = None,
) -> OrjsonResponse:
    row = await _unit(session, uscc)
    after = cursor.decode("grade-history", cursor_, 1)[0] if cursor_ else 0
    rows = await repo.history(session, row.unit_id, after_id=after, limit=limit + 1)
    page = [dict(r._mapping) for r in rows[:limit]]
    nxt = cursor.encode("grade-history", page[-1]["id"]) if len(rows) > limit else None
    return OrjsonResponse({"items": page, "next_cursor": nxt, "as_of": ctx.now().isoformat()})
