from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends

from services.credit.deps import ContextDep, SessionDep, require
from services.credit.listing import repository as repo
from services.credit.listing import service
from services.credit.listing.schemas import ListingOut, ProposeIn, TransitionIn
from services.credit.policy.checks_model import default_checks_policy
from services.kit.auth import Principal
from services.kit.errors import problem_responses
from services.kit.http import OrjsonResponse
from services.kit.ids import normalise_code

router = APIRouter(tags=["serious list"])
WriteList = Annotated[Principal, Depends(require("listing:write"))]
ReadList = Annotated[Principal, Depends(require("listing:read"))]


@router.post(
    "/v1/serious-list",
    status_code=201,
    response_model=ListingOut,
    responses=problem_responses(401, 403, 422),
    summary="Propose a unit or responsible person for the serious list, on a policy ground with records",
)
async def propose(
    body: ProposeIn, ctx: ContextDep, session: SessionDep, principal: WriteList
) -> OrjsonResponse:
    listing_id = await service.propose(
        session, body, principal, policy=default_checks_policy(), today=ctx.today()
    )
    return OrjsonResponse(
        await service.read(session, listing_id),
        status_code=201,
        headers={"Location": f"/v1/serious-list/{listing_id}"},
    )


@router.get(
    "/v1/serious-list/{listing_id}",
    response_model=ListingOut,
    responses=problem_responses(401, 403, 404, 422),
    summary="One listing with its notice and events",
)
async def get_listing(listing_id: uuid.UUID, session: SessionDep, reader: ReadList) -> OrjsonResponse:
    return OrjsonResponse(await service.read(session, listing_id))


@router.post(
    "/v1/serious-list/{listing_id}/transitions",
    response_model=ListingOut,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Move a listing on: issue the notice, record or decide an objection, list, cancel",
)
async def move(
    listing_id: uuid.UUID, body: TransitionIn, ctx: ContextDep, session: SessionDep, principal: WriteList
) -> OrjsonResponse:
    await service.manual(
        session, listing_id, body, principal, policy=default_checks_policy(), today=ctx.today()
    )
    return OrjsonResponse(await service.read(session, listing_id))


@router.get(
    "/v1/units/{uscc}/serious-list",
    response_model=list[ListingOut],
    responses=problem_responses(401, 403, 422),
    summary="Every listing of a unit and its persons",
)
async def of_unit(uscc: str, session: SessionDep, reader: ReadList) -> OrjsonResponse:
    return OrjsonResponse([service.out(r) for r in await repo.of_unit(session, normalise_code(uscc))])
