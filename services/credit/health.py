from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text

from services.credit.deps import ContextDep
from services.kit.errors import ProblemError, problem_responses
from services.kit.http import OrjsonResponse

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str


class Ready(BaseModel):
    status: str
    database: str
    migration: str | None
    policy_version: str


@router.get("/healthz", response_model=Health, summary="Liveness: the process answers")
async def healthz() -> OrjsonResponse:
    return OrjsonResponse({"status": "ok"})


@router.get(
    "/readyz",
    response_model=Ready,
    responses=problem_responses(503),
    summary="Readiness: database reachable and migrations at head",
)
async def readyz(ctx: ContextDep) -> OrjsonResponse:
    try:
        async with ctx.engine.connect() as conn:
            current = (await conn.execute(text("SELECT version_num FROM credit.alembic_version"))).scalar_one_or_none()
    except Exception as exc:
        raise ProblemError(503, "database_unavailable", f"database not reachable: {type(exc).__name__}") from exc
    expected = getattr(ctx, "expected_revision", None)
    if expected and current != expected:
        raise ProblemError(503, "migrations_pending", f"database at {current}, code expects {expected}")
    return OrjsonResponse(
        {"status": "ready", "database": "ok", "migration": current, "policy_version": ctx.policy.version}
    )
