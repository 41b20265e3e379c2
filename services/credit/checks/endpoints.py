"""Credit checks (信用核查): thin endpoints over the check service."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import StreamingResponse

from services.credit.checks import errors, feedback, service
from services.credit.checks import repository as repo
from services.credit.checks.schemas import (
    BatchCheckIn,
    BatchOut,
    CheckIn,
    CheckOut,
    FeedbackIn,
    FeedbackOut,
    StatsOut,
    VerifyIn,
    VerifyOut,
)
from services.credit.common.pool import (
    CheckConn,
    CheckWriter,
    Readers,
    get_check_writer,
    get_readers,
    read_connection,
)
from services.credit.context import CreditContext
from services.credit.deps import ContextDep, SessionDep, authorise, require
from services.credit.measures.catalogue import default_catalogue
from services.credit.policy.checks_model import default_checks_policy
from services.kit.audit import set_subject
from services.kit.auth import Principal
from services.kit.errors import problem_responses
from services.kit.hotpath import read_json_body, validated_body
from services.kit.http import OrjsonResponse

router = APIRouter(tags=["credit checks"])
WriteChecks = Annotated[Principal, Depends(require("checks:write"))]
ReadChecks = Annotated[Principal, Depends(require("checks:read"))]
JSONL = ("application/x-ndjson", "application/jsonl", "application/json-lines")


@router.post(
    "/v1/credit-checks",
    status_code=201,
    response_model=CheckOut,
    responses=problem_responses(401, 403, 422),
    summary="Check a unit before an approval: grade, serious list, records, measures that apply",
)
async def create_check(
    request: Request, principal: WriteChecks, body: CheckIn, ctx: ContextDep, conn: CheckConn, writer: CheckWriter
) -> Response:
    catalogue, policy = default_catalogue(), default_checks_policy()
    req = service.request_of(body, principal, catalogue)
    set_subject(request.state, uscc=req.uscc, purpose=f"{req.scenario} {req.case_ref}: {req.purpose}"[:500])
    check_id, raw = await service.check_one(
        conn, req, today=ctx.today(), policy=policy, catalogue=catalogue, writer=writer
    )
    return Response(
        raw,
        status_code=201,
        media_type="application/json",
        headers={"Location": f"/v1/credit-checks/{check_id}"},
    )


@router.post(
    "/v1/credit-checks:batch",
    response_model=BatchOut,
    responses=problem_responses(401, 403, 422),
    summary="Check up to 10,000 units in one call (JSON Lines when asked with Accept: application/x-ndjson)",
)
async def batch_check(
    principal: WriteChecks,
    body: BatchCheckIn,
    ctx: ContextDep,
    conn: CheckConn,
    readers: Readers,
    accept: Annotated[str | None, Header()] = None,
) -> Response:
    catalogue, policy = default_catalogue(), default_checks_policy()
    if len(body.usccs) > policy.checks.batch_max:
        raise errors.bad_batch(len(body.usccs), policy.checks.batch_max)
    req = service.request_of(body, principal, catalogue)
    batch_id, answers, duplicates = await service.check_many(
        conn, req, body.usccs, today=ctx.today(), policy=policy, catalogue=catalogue, readers=readers
    )
    headers = {
        "X-Batch-Id": str(batch_id),
        "X-Batch-Count": str(len(answers)),
        "X-Batch-Duplicates": str(duplicates),
    }
    if accept and any(t in accept for t in JSONL):

        async def lines() -> AsyncIterator[bytes]:
            for i in range(0, len(answers), 500):
                yield b"\n".join(answers[i : i + 500]) + b"\n"

        return StreamingResponse(lines(), media_type="application/x-ndjson", headers=headers)
    payload = b"".join(
        [
            b'{"batch_id":"',
            str(batch_id).encode(),
            b'","count":',
            str(len(answers)).encode(),
            b',"duplicates":',
            str(duplicates).encode(),
            b',"items":[',
            b",".join(answers),
            b"]}",
        ]
    )
    return Response(payload, media_type="application/json", headers=headers)


@router.get(
    "/v1/credit-checks/overdue-feedback",
    responses=problem_responses(401, 403, 422),
    summary="The caller's department's checks whose feedback is overdue (working days)",
)
async def overdue_feedback(
    ctx: ContextDep,
    session: SessionDep,
    principal: ReadChecks,
    limit: Annotated[int, Query(ge=1, le=1000, description="Page size, default 100.")] = 100,
    after: Annotated[uuid.UUID | None, Query(description="Last id of the previous page.")] = None,
) -> OrjsonResponse:
    rows = await repo.overdue(session, department=principal.department, today=ctx.today(), after=after, limit=limit)
    items = [{**r._mapping, "id": str(r.id)} for r in rows]
    return OrjsonResponse(
        {
            "items": items,
            "as_of": ctx.now().isoformat(),
            "next_after": str(items[-1]["id"]) if len(items) == limit else None,
        }
    )


@router.get(
    "/v1/credit-checks/{check_id}",
    response_model=CheckOut,
    responses=problem_responses(401, 403, 404, 422),
    summary="A check exactly as it was answered",
)
async def get_check(request: Request, check_id: uuid.UUID, conn: CheckConn, principal: ReadChecks) -> Response:
    row = await repo.get_check(conn, check_id)
    if row is None:
        raise errors.check_not_found(check_id)
    set_subject(request.state, uscc=row["uscc"])
    if not service.can_read(principal, row["department"]):
        raise errors.not_own_check(check_id)
    return Response(row["answer"].encode(), media_type="application/json")


@router.post(
    "/v1/credit-checks/{check_id}:verify",
    response_model=VerifyOut,
    responses=problem_responses(401, 403, 404, 422),
    summary="Confirm a printed check by its id and verification code",
)
async def verify_check(check_id: uuid.UUID, body: VerifyIn, conn: CheckConn, reader: ReadChecks) -> OrjsonResponse:
    row = await repo.get_check(conn, check_id)
    if row is None:
        raise errors.check_not_found(check_id)
    if not secrets.compare_digest(row["code"].encode(), body.code.upper().encode()):
        return OrjsonResponse({"valid": False, "id": str(check_id)})
    return OrjsonResponse(
        {
            "valid": True,
            "id": str(check_id),
            "uscc": row["uscc"],
            "created_at": row["created_at"].isoformat(),
            "grade": row["grade"],
            "answer_hash": row["answer_hash"],
        }
    )


@router.post(
    "/v1/credit-checks/{check_id}/feedback",
    status_code=201,
    response_model=FeedbackOut,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Report what was done with a check (measures applied or not and why, outcome, date)",
)
async def give_feedback(
    check_id: uuid.UUID, body: FeedbackIn, ctx: ContextDep, session: SessionDep, principal: WriteChecks
) -> OrjsonResponse:
    out = await feedback.record(ctx, session, check_id, body, principal)
    return OrjsonResponse(out, status_code=201, headers={"Location": f"/v1/credit-checks/{check_id}/feedback"})


@router.get(
    "/v1/credit-checks/{check_id}/feedback",
    response_model=FeedbackOut,
    responses=problem_responses(401, 403, 404, 422),
    summary="The feedback given for a check",
)
async def read_feedback(check_id: uuid.UUID, session: SessionDep, principal: ReadChecks) -> OrjsonResponse:
    return OrjsonResponse(await feedback.read(session, check_id, principal))


@router.get(
    "/v1/credit-check-statistics",
    response_model=StatsOut,
    responses=problem_responses(401, 403, 422),
    summary="Effectiveness per department, scenario and period: checks, hits, measures applied, feedback",
)
async def statistics(
    ctx: ContextDep,
    session: SessionDep,
    principal: ReadChecks,
    date_from: Annotated[dt.date, Query(description="First check date (inclusive).")],
    date_to: Annotated[dt.date, Query(description="Last check date (inclusive).")],
    department: Annotated[str | None, Query(max_length=100)] = None,
    scenario: Annotated[str | None, Query(max_length=64)] = None,
) -> OrjsonResponse:
    return OrjsonResponse(await feedback.statistics(ctx, session, principal, date_from, date_to, department, scenario))


# --- the hot path (services/kit/hotpath.py): the same endpoints, dependencies resolved by hand in the
# framework's order: the body is read (and refused if it is not JSON) before authorisation, validated after


async def create_check_hot(request: Request, _: str) -> Response:
    raw = await read_json_body(request)
    principal = authorise(request, request.headers.get("authorization"), ("checks:write",))
    body = await validated_body(request.scope["route"], raw)
    ctx: CreditContext = request.app.state.ctx
    writer = await get_check_writer(request)
    async with read_connection(request) as conn:
        return await create_check(request, principal, body, ctx, conn, writer)


async def batch_check_hot(request: Request, _: str) -> Response:
    raw = await read_json_body(request)
    principal = authorise(request, request.headers.get("authorization"), ("checks:write",))
    body = await validated_body(request.scope["route"], raw)
    ctx: CreditContext = request.app.state.ctx
    readers = await get_readers(request, ctx)
    async with read_connection(request) as conn:
        return await batch_check(principal, body, ctx, conn, readers, request.headers.get("accept"))
