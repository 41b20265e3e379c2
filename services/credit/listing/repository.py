"""All SQL of the serious list."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncSession

_COLS = (
    "id, subject_kind, unit_id, uscc, person_id, ground, record_ids, reasons, state, objection, "
    "notice_issued_on, objection_until, objection_provisional, listed_on, list_until, ended_on, end_reason, "
    "department, proposed_by, policy_version, version"
)
# every f-string below interpolates only _COLS or column names from this module, never input


async def unit(session: AsyncSession, uscc: str) -> Row[Any] | None:
    return (
        await session.execute(text("SELECT id, uscc, name FROM credit.units WHERE uscc = :u"), {"u": uscc})
    ).first()


async def person_of_unit(session: AsyncSession, unit_id: int, person_id: int) -> bool:
    sql = text("SELECT 1 FROM credit.unit_persons WHERE id = :p AND unit_id = :u")
    return (await session.execute(sql, {"p": person_id, "u": unit_id})).first() is not None


async def records(session: AsyncSession, ids: Sequence[uuid.UUID]) -> Sequence[Row[Any]]:
    sql = text(
        "SELECT id::text AS id, unit_id, record_type, severity, state, body, document_no "
        "FROM credit.records WHERE id = ANY(CAST(:ids AS uuid[]))"
    )
    return (await session.execute(sql, {"ids": [str(i) for i in ids]})).all()


async def insert(session: AsyncSession, values: dict[str, Any]) -> None:
    sql = text(
        """
        INSERT INTO credit.listings (id, subject_kind, unit_id, uscc, person_id, ground, record_ids, reasons,
                                     state, department, proposed_by, policy_version)
        VALUES (:id, :subject_kind, :unit_id, :uscc, :person_id, :ground, CAST(:record_ids AS uuid[]),
                :reasons, 'proposed', :department, :proposed_by, :policy_version)
        """
    )
    await session.execute(sql, values)


async def get(session: AsyncSession, listing_id: uuid.UUID, *, lock: bool = False) -> Row[Any] | None:
    sql = f"SELECT {_COLS} FROM credit.listings WHERE id = :id" + (" FOR UPDATE" if lock else "")  # noqa: S608
    return (await session.execute(text(sql), {"id": listing_id})).first()


async def update(session: AsyncSession, listing_id: uuid.UUID, values: dict[str, Any]) -> None:
    sets = ", ".join(f"{k} = :{k}" for k in values)
    sql = text(f"UPDATE credit.listings SET {sets}, version = version + 1, updated_at = now() WHERE id = :id")  # noqa: S608
    await session.execute(sql, {**values, "id": listing_id})


async def add_event(session: AsyncSession, values: dict[str, Any]) -> None:
    sql = text(
        """
        INSERT INTO credit.listing_events (listing_id, event, from_state, to_state, occurred_on, actor,
                                           department, reason, data)
        VALUES (:listing_id, :event, :from_state, :to_state, :occurred_on, :actor, :department, :reason,
                CAST(:data AS jsonb))
        """
    )
    await session.execute(sql, values)


async def events(session: AsyncSession, listing_id: uuid.UUID) -> Sequence[Row[Any]]:
    sql = text(
        "SELECT event, from_state, to_state, occurred_on, actor, department, reason, recorded_at "
        "FROM credit.listing_events WHERE listing_id = :id ORDER BY id"
    )
    return (await session.execute(sql, {"id": listing_id})).all()


async def add_notice(session: AsyncSession, values: dict[str, Any]) -> None:
    sql = text(
        """
        INSERT INTO credit.listing_notices (id, listing_id, document_no, issued_on, content, content_hash,
                                            issued_by)
        VALUES (:id, :listing_id, :document_no, :issued_on, CAST(:content AS jsonb), :content_hash,
                :issued_by)
        """
    )
    await session.execute(sql, values)


async def notice(session: AsyncSession, listing_id: uuid.UUID) -> Row[Any] | None:
    sql = text(
        "SELECT id, document_no, issued_on, content, content_hash, issued_by FROM credit.listing_notices "
        "WHERE listing_id = :id"
    )
    return (await session.execute(sql, {"id": listing_id})).first()


async def of_unit(session: AsyncSession, uscc: str) -> Sequence[Row[Any]]:
    sql = text(f"SELECT {_COLS} FROM credit.listings WHERE uscc = :u ORDER BY created_at DESC, id")  # noqa: S608
    return (await session.execute(sql, {"u": uscc})).all()


async def expired(session: AsyncSession, today: dt.date, limit: int) -> list[uuid.UUID]:
    sql = text(
        "SELECT id FROM credit.listings WHERE state = 'listed' AND list_until <= :today "
        "ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED"
    )
    return [r[0] for r in (await session.execute(sql, {"today": today, "limit": limit})).all()]


async def unproven(session: AsyncSession, unit_ids: Sequence[int]) -> list[uuid.UUID]:
    """Active listings of these units none of whose proving records is still active."""
    sql = text(
        """
        SELECT l.id FROM credit.listings l
        WHERE l.unit_id = ANY(CAST(:ids AS bigint[])) AND l.state IN ('proposed', 'notice_issued', 'listed')
          AND NOT EXISTS (SELECT 1 FROM credit.records r
                          WHERE r.id = ANY(l.record_ids) AND r.state = 'active')
        ORDER BY l.id
        """
    )
    return [r[0] for r in (await session.execute(sql, {"ids": list(unit_ids)})).all()]
