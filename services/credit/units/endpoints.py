from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request, Response

from services.credit.common.http import etag_header, json_body, parse_if_match
from services.credit.common.idempotency import StoredAnswer, remember, request_fingerprint, reserve
from services.credit.common.pool import CheckConn, read_connection
from services.credit.context import CreditContext
from services.credit.deps import ContextDep, SessionDep, authorise, require
from services.credit.units import importer, service
from services.credit.units import repository as repo
from services.credit.units.errors import unit_not_found
from services.credit.units.schemas import (
    BULK_MAX_ITEMS,
    BulkUpsertOut,
    FireClass,
    RegStatus,
    UnitIn,
    UnitOut,
    UnitPage,
    UnitPatch,
)
from services.kit import cursor
from services.kit.audit import set_subject
from services.kit.auth import Principal
from services.kit.errors import FieldError, ProblemError, problem_responses
from services.kit.http import OrjsonResponse
from services.kit.ids import normalise_code

router = APIRouter(prefix="/v1/units", tags=["units"])
ReadUnits = Annotated[Principal, Depends(require("units:read"))]
WriteUnits = Annotated[Principal, Depends(require("units:write"))]
ListUnits = Annotated[Principal, Depends(require("units:list"))]
DEFAULT_PAGE, MAX_PAGE = 100, 1000


async def _uscc_param(uscc: str) -> str:
    value = normalise_code(uscc)
    if len(value) != 18:
        raise ProblemError(
            422,
            "invalid_uscc",
            "a USCC has 18 characters",
            errors=[FieldError(field="path.uscc", reason="must be 18 characters")],
        )
    return value


PathUscc = Annotated[str, Depends(_uscc_param)]


@router.get(
    "/{uscc}",
    response_model=UnitOut,
    responses=problem_responses(401, 403, 404, 422),
    summary="One unit with its responsible persons",
)
async def get_unit(principal: ReadUnits, uscc: PathUscc, ctx: ContextDep, conn: CheckConn) -> Response:
    # the hot read: one prepared statement on the read pool, no ORM session, no transaction
    row = await conn.fetchrow(repo.UNIT_BY_USCC, uscc)
    if row is None:
        raise unit_not_found(uscc)
    unit = service.unit_answer(ctx, row, principal)
    return OrjsonResponse(unit, headers=etag_header(unit["version"]))


async def get_unit_hot(request: Request, uscc: str) -> Response:
    """`get_unit` on the hot path (services/kit/hotpath.py): its dependencies in their order."""
    principal = authorise(request, request.headers.get("authorization"), ("units:read",))
    code = await _uscc_param(uscc)
    ctx: CreditContext = request.app.state.ctx
    async with read_connection(request) as conn:
        return await get_unit(principal, code, ctx, conn)


@router.post(
    "",
    status_code=201,
    response_model=UnitOut,
    responses=problem_responses(401, 403, 409, 422),
    summary="Register a unit",
)
async def create_unit(
    body: UnitIn,
    request: Request,
    ctx: ContextDep,
    session: SessionDep,
    principal: WriteUnits,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
) -> Response:
    set_subject(request.state, uscc=body.uscc)
    if idempotency_key:
        stored = await reserve(
            session,
            client_id=principal.client_id,
            operation="units.create",
            key=idempotency_key,
            fingerprint=request_fingerprint(body.model_dump(mode="json")),
        )
        if stored is not None:
            return _replay(stored)
    unit = await service.create_unit(ctx, session, body, principal)
    payload = orjson.loads(orjson.dumps(unit))
    if idempotency_key:
        await remember(
            session,
            client_id=principal.client_id,
            operation="units.create",
            key=idempotency_key,
            status=201,
            resource=f"/v1/units/{unit['uscc']}",
            body=payload,
        )
    return OrjsonResponse(
        payload, status_code=201, headers={**etag_header(unit["version"]), "Location": f"/v1/units/{unit['uscc']}"}
    )


def _replay(stored: StoredAnswer) -> Response:
    return OrjsonResponse(
        stored.body, status_code=stored.status, headers={"Location": stored.resource, "Idempotent-Replayed": "true"}
    )


@router.patch(
    "/{uscc}",
    response_model=UnitOut,
    responses=problem_responses(401, 403, 404, 412, 422, 428),
    summary="Change a unit (If-Match with the ETag read before)",
)
async def update_unit(
    uscc: PathUscc,
    body: UnitPatch,
    ctx: ContextDep,
    session: SessionDep,
    principal: WriteUnits,
    if_match: Annotated[str | None, Header(alias="If-Match")] = None,
) -> Response:
    version = parse_if_match(if_match)
    unit = await service.update_unit(ctx, session, uscc, body, version, principal)
    return OrjsonResponse(unit, headers=etag_header(unit["version"]))


@router.get(
    "",
    response_model=UnitPage,
    responses=problem_responses(401, 403, 422),
    summary="List units by filter, or search by a Chinese name substring",
)
async def list_units(
    ctx: ContextDep,
    session: SessionDep,
    principal: ListUnits,
    region_code: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
    fire_class: FireClass | None = None,
    reg_status: RegStatus | None = None,
    name_contains: Annotated[
        str | None, Query(min_length=1, max_length=50, description="Substring of the unit name, e.g. 延吉 or 酒店.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"Page size, default {DEFAULT_PAGE}.")] = DEFAULT_PAGE,
    cursor_: Annotated[str | None, Query(alias="cursor", max_length=200)] = None,
) -> Response:
    after_id = cursor.decode("units", cursor_, 1)[0] if cursor_ else None
    rows = await repo.list_page(
        session,
        after_id=after_id,
        limit=limit + 1,
        region_code=region_code,
        fire_class=fire_class,
        reg_status=reg_status,
        name_contains=name_contains.strip() if name_contains else None,
    )
    page = rows[:limit]
    next_cursor = cursor.encode("units", page[-1].id) if len(rows) > limit else None
    items = [service.unit_answer(ctx, r._mapping, principal) for r in page]
    return OrjsonResponse({"items": items, "next_cursor": next_cursor, "as_of": ctx.now().isoformat()})


@router.post(
    ":bulk-upsert",
    response_model=BulkUpsertOut,
    responses=problem_responses(400, 401, 403, 413, 422),
    summary=f"Create or update up to {BULK_MAX_ITEMS} units; each item answered on its own",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/BulkUpsertIn"}}},
        }
    },
)
async def bulk_upsert(request: Request, ctx: ContextDep, session: SessionDep, principal: WriteUnits) -> Response:
    items = service.batch_items(await json_body(request), BULK_MAX_ITEMS)
    result = await service.bulk_upsert(ctx, session, items, principal)
    return Response(orjson.dumps(result.model_dump(mode="json")), media_type="application/json")


@router.post(
    ":import",
    response_model=BulkUpsertOut,
    responses=problem_responses(400, 401, 403, 413, 415, 422),
    summary=f"Create or update up to {importer.IMPORT_MAX_ITEMS} units in one set-based write (nightly loads)",
    description=(
        "The same items and the same per-item answers as `:bulk-upsert` (created / updated / unchanged / "
        "rejected with field errors; idempotent), in batches of up to "
        f"{importer.IMPORT_MAX_ITEMS} and written set-based: meant for system clients' nightly loads."
    ),
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": importer.IMPORT_BODY_SCHEMA}}}
    },
)
async def import_units(request: Request, ctx: ContextDep, session: SessionDep, principal: WriteUnits) -> Response:
    items = service.batch_items(await json_body(request), importer.IMPORT_MAX_ITEMS)
    answer = await importer.import_units(ctx, session, items, principal)
    return Response(orjson.dumps(answer), media_type="application/json")
