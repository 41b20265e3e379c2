from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response

from services.credit.common.http import etag_header, parse_if_match
from services.credit.common.idempotency import remember, request_fingerprint, reserve
from services.credit.deps import ContextDep, SessionDep, require
from services.credit.records import repository as repo
from services.credit.records import service
from services.credit.records.errors import unit_unknown
from services.credit.records.schemas import CorrectionIn, RecordHistory, RecordIn, RecordOut, RecordPage, WithdrawalIn
from services.credit.units.endpoints import PathUscc
from services.kit import cursor
from services.kit.audit import set_subject
from services.kit.auth import Principal
from services.kit.errors import problem_responses
from services.kit.http import OrjsonResponse

router = APIRouter(tags=["records"])
ReadRecords = Annotated[Principal, Depends(require("records:read"))]
WriteRecords = Annotated[Principal, Depends(require("records:write"))]
IfMatch = Annotated[str | None, Header(alias="If-Match")]
DEFAULT_PAGE, MAX_PAGE = 50, 500


def _answer(out: RecordOut, status: int = 200, **headers: str) -> Response:
    return OrjsonResponse(
        out.model_dump(mode="json"), status_code=status, headers={**etag_header(out.version), **headers}
    )


@router.post(
    "/v1/records",
    status_code=201,
    response_model=RecordOut,
    responses={
        200: {"model": RecordOut, "description": "The same record was already recorded: the original."},
        **problem_responses(401, 403, 409, 422),
    },
    summary="Record a credit decision of the caller's department",
)
async def create_record(
    record: Annotated[RecordIn, Body()],
    request: Request,
    ctx: ContextDep,
    session: SessionDep,
    principal: WriteRecords,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
) -> Response:
    set_subject(request.state, uscc=record.unit_uscc)
    if idempotency_key:
        stored = await reserve(
            session,
            client_id=principal.client_id,
            operation="records.create",
            key=idempotency_key,
            fingerprint=request_fingerprint(record.model_dump(mode="json")),
        )
        if stored is not None:
            replay = await service.get_record(ctx, session, uuid.UUID(stored.resource.rsplit("/", 1)[1]), principal)
            return _answer(replay, 200, **{"Idempotent-Replayed": "true", "Location": stored.resource})
    out, created = await service.create_record(ctx, session, record, principal)
    location = f"/v1/records/{out.id}"
    if idempotency_key:
        await remember(
            session,
            client_id=principal.client_id,
            operation="records.create",
            key=idempotency_key,
            status=201,
            resource=location,
            body={"id": str(out.id)},
        )
    if not created:
        return _answer(out, 200, **{"Idempotent-Replayed": "true", "Location": location})
    return _answer(out, 201, Location=location)


@router.get(
    "/v1/records/{record_id}",
    response_model=RecordOut,
    responses=problem_responses(401, 403, 404, 422),
    summary="One record, current version",
)
async def get_record(
    record_id: uuid.UUID, request: Request, ctx: ContextDep, session: SessionDep, principal: ReadRecords
) -> Response:
    out = await service.get_record(ctx, session, record_id, principal)
    set_subject(request.state, uscc=out.unit_uscc)
    return _answer(out)


@router.get(
    "/v1/records/{record_id}/history",
    response_model=RecordHistory,
    responses=problem_responses(401, 403, 404, 422),
    summary="Every version of a record, oldest first",
)
async def record_history(
    record_id: uuid.UUID, request: Request, ctx: ContextDep, session: SessionDep, _p: ReadRecords
) -> Response:
    versions = await service.history(ctx, session, record_id)
    subject = versions[0].record.get("unit_uscc")
    set_subject(request.state, uscc=subject if isinstance(subject, str) else None)
    return OrjsonResponse(
        {
            "id": str(record_id),
            "versions": [v.model_dump(mode="json") for v in versions],
            "as_of": ctx.now().isoformat(),
        }
    )


@router.post(
    "/v1/records/{record_id}:correct",
    response_model=RecordOut,
    responses=problem_responses(401, 403, 404, 409, 412, 422, 428),
    summary="Correct a record: a new version with a reason (If-Match)",
)
async def correct_record(
    record_id: uuid.UUID,
    body: CorrectionIn,
    request: Request,
    ctx: ContextDep,
    session: SessionDep,
    principal: WriteRecords,
    if_match: IfMatch = None,
) -> Response:
    out = await service.correct_record(ctx, session, record_id, body, parse_if_match(if_match), principal)
    set_subject(request.state, uscc=out.unit_uscc)
    return _answer(out)


@router.post(
    "/v1/records/{record_id}:withdraw",
    response_model=RecordOut,
    responses=problem_responses(401, 403, 404, 409, 412, 422, 428),
    summary="Withdraw a record whose decision was revoked (kept, never deleted; If-Match)",
)
async def withdraw_record(
    record_id: uuid.UUID,
    body: WithdrawalIn,
    request: Request,
    ctx: ContextDep,
    session: SessionDep,
    principal: WriteRecords,
    if_match: IfMatch = None,
) -> Response:
    out = await service.withdraw_record(ctx, session, record_id, body, parse_if_match(if_match), principal)
    set_subject(request.state, uscc=out.unit_uscc)
    return _answer(out)


@router.get(
    "/v1/units/{uscc}/records",
    response_model=RecordPage,
    responses=problem_responses(401, 403, 404, 422),
    summary="A unit's records, newest decision first",
)
async def unit_records(
    uscc: PathUscc,
    ctx: ContextDep,
    session: SessionDep,
    principal: ReadRecords,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"Default {DEFAULT_PAGE}.")] = DEFAULT_PAGE,
    cursor_: Annotated[str | None, Query(alias="cursor", max_length=200)] = None,
) -> Response:
    unit_id = await repo.unit_id_of(session, uscc)
    if unit_id is None:
        raise unit_unknown(uscc)
    after = None
    if cursor_:
        ordinal, id_int = cursor.decode("records", cursor_, 2)
        if not 1 <= ordinal <= dt.date.max.toordinal():
            raise cursor.invalid()
        after = (dt.date.fromordinal(ordinal), uuid.UUID(int=id_int))
    rows = await repo.list_for_unit(session, unit_id, after=after, limit=limit + 1)
    page = rows[:limit]
    next_cursor = (
        cursor.encode("records", page[-1].decision_date.toordinal(), page[-1].id.int) if len(rows) > limit else None
    )
    return OrjsonResponse(
        {
            "items": [service.to_out(ctx, r, principal).model_dump(mode="json") for r in page],
            "next_cursor": next_cursor,
            "as_of": ctx.now().isoformat(),
        }
    )
