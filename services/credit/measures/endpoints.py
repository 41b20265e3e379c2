from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from services.credit.deps import require
from services.credit.measures.catalogue import default_catalogue
from services.kit.auth import Principal
from services.kit.errors import FieldError, ProblemError, problem_responses
from services.kit.http import OrjsonResponse

router = APIRouter(tags=["measures"])


@router.get(
    "/v1/measures",
    responses=problem_responses(401, 422),
    summary="Published joint-discipline measures and incentives, by scenario and grade",
)
async def measures(
    reader: Annotated[Principal, Depends(require("checks:read"))],
    scenario: Annotated[str | None, Query(max_length=64)] = None,
    grade: Literal["A", "B", "C", "D"] | None = None,
) -> OrjsonResponse:
    cat = default_catalogue()
    if scenario is not None and scenario not in cat.scenarios:
        raise ProblemError(
            422,
            "unknown_scenario",
            f"unknown scenario {scenario!r}",
            errors=[FieldError(field="query.scenario", reason="not in the catalogue")],
        )
    if grade is not None and scenario is not None:
        items = cat.lookup(scenario, grade)
    else:
        items = [m for m in cat.published(scenario) if grade is None or grade in m.grades]
    return OrjsonResponse(
        {
            "version": cat.version,
            "scenarios": {k: v.model_dump() for k, v in cat.scenarios.items()},
            "items": [{**m.public(), "scenario": m.scenario, "grades": m.grades} for m in items],
        }
    )
