"""What a record writer calls after changing records, in its own transaction:

    await after_record_change(session, [unit_id], today=ctx.today(), actor=principal.client_id)

It ends listings whose proving records were all withdrawn, then re-grades the units. If a writer
does not call it, the trigger's queue entry makes `credit grades drain` (or the nightly run) do it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.credit.grades import repository as grades_repo
from services.credit.grades.service import RegradeReport, nightly_batch, regrade_units
from services.credit.listing.service import expire_due, remove_unproven
from services.credit.policy.checks_model import ChecksPolicy, default_checks_policy


async def after_record_change(
    session: AsyncSession,
    unit_ids: Sequence[int],
    *,
    today: dt.date,
    actor: str,
    policy: ChecksPolicy | None = None,
) -> RegradeReport:
    policy = policy or default_checks_policy()
    ids = sorted(set(unit_ids))
    await remove_unproven(session, ids, policy=policy, today=today, actor=actor)
    return await regrade_units(session, ids, policy=policy, today=today, reason="record_changed", actor=actor)


async def drain(
    session: AsyncSession, *, today: dt.date, policy: ChecksPolicy | None = None, limit: int = 2000
) -> RegradeReport:
    ids = await grades_repo.claim_queue(session, limit)
    if not ids:
        return RegradeReport()
    return await after_record_change(session, ids, today=today, actor="queue", policy=policy)


async def nightly(
    session: AsyncSession, *, today: dt.date, policy: ChecksPolicy | None = None
) -> dict[str, object]:
    """Time passes: expire listings, drain the queue, re-grade every unit whose next change day has come."""
    policy = policy or default_checks_policy()
    expired = await expire_due(session, policy=policy, today=today, limit=100_000)
    total = RegradeReport()
    total.add(await drain(session, today=today, policy=policy, limit=100_000))
    after: int | None = 0
    while after is not None:
        report, after = await nightly_batch(session, policy=policy, today=today, after_id=after)
        total.add(report)
    return {"listings_expired": expired, **total.as_dict()}
