"""All SQL of the grades domain: set-based reads of record facts and listings, bulk writes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import BigInteger

from services.credit.changes.repository import append_changes

_IDS = bindparam("ids", type_=ARRAY(BigInteger))

_FACTS = text(
    """
    SELECT unit_id, id::text AS id, record_type, severity, polarity, decision_date, publish_until, state,
           disputed, document_no, body->'details'->>'kind' AS kind
    FROM credit.records WHERE unit_id = ANY(:ids)
    """
).bindparams(_IDS)

_LISTINGS = text(
    """
    SELECT unit_id, id::text AS id, ground, listed_on, list_until
    FROM credit.listings
    WHERE unit_id = ANY(:ids) AND subject_kind = 'unit' AND state = 'listed' AND list_until > :today
    """
).bindparams(_IDS)

_CURRENT = text(
    """
    SELECT u.id AS unit_id, u.uscc, g.grade, g.score, g.explanation, g.version, g.next_change_on
    FROM credit.units u LEFT JOIN credit.grades g ON g.unit_id = u.id
    WHERE u.id = ANY(:ids)
    ORDER BY u.id
    """
).bindparams(_IDS)


async def record_facts(session: AsyncSession, unit_ids: Sequence[int]) -> Sequence[Row[Any]]:
    return (await session.execute(_FACTS, {"ids": list(unit_ids)})).all()


async def active_listings(
    session: AsyncSession, unit_ids: Sequence[int], today: dt.date
) -> Sequence[Row[Any]]:
    return (await session.execute(_LISTINGS, {"ids": list(unit_ids), "today": today})).all()


async def current_rows(session: AsyncSession, unit_ids: Sequence[int], *, lock: bool) -> Sequence[Row[Any]]:
    """Current grades of the units; with `lock`, the grade rows are locked (FOR NO KEY UPDATE of the
    unit would block unit writers, so a transaction-scoped advisory lock per unit serialises re-grades)."""
    if lock:
        await session.execute(
            text(
                "SELECT pg_advisory_xact_lock(hashtext('credit.grade'), (id % 2147483647)::int) "
                "FROM unnest(CAST(:ids AS bigint[])) AS t(id) ORDER BY id"
            ),
            {"ids": list(unit_ids)},
        )
    return (await session.execute(_CURRENT, {"ids": list(unit_ids)})).all()


async def current_grade(session: AsyncSession, uscc: str) -> Row[Any] | None:
    sql = text(
        """
        SELECT u.id AS unit_id, u.uscc, g.grade, g.score, g.explanation, g.policy_version, g.evaluated_on,
               g.next_change_on, g.version, g.updated_at,
               EXISTS (SELECT 1 FROM credit.grade_queue q WHERE q.unit_id = u.id) AS stale
        FROM credit.units u LEFT JOIN credit.grades g ON g.unit_id = u.id WHERE u.uscc = :uscc
        """
    )
    return (await session.execute(sql, {"uscc": uscc})).first()


async def history(session: AsyncSession, unit_id: int, *, after_id: int, limit: int) -> Sequence[Row[Any]]:
    sql = text(
        """
        SELECT id, grade, previous_grade, score, explanation, policy_version, evaluated_on, reason, actor,
               recorded_at
        FROM credit.grade_history WHERE unit_id = :unit_id AND id > :after ORDER BY id LIMIT :limit
        """
    )
    return (await session.execute(sql, {"unit_id": unit_id, "after": after_id, "limit": limit})).all()


async def upsert_grades(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    sql = text(
        """
        INSERT INTO credit.grades AS g (unit_id, uscc, grade, score, explanation, policy_version,
                                        evaluated_on, next_change_on, version, updated_at)
        VALUES (:unit_id, :uscc, :grade, :score, CAST(:explanation AS jsonb), :policy_version, :evaluated_on,
                :next_change_on, :version, now())
        ON CONFLICT (unit_id) DO UPDATE SET
          grade = excluded.grade, score = excluded.score, explanation = excluded.explanation,
          policy_version = excluded.policy_version, evaluated_on = excluded.evaluated_on,
          next_change_on = excluded.next_change_on, version = excluded.version, updated_at = now()
        """
    )
    await session.execute(sql, rows)


async def touch_grades(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Unchanged grades: only the evaluation day and the next boundary move."""
    if not rows:
        return
    sql = text(
        "UPDATE credit.grades SET evaluated_on = :evaluated_on, next_change_on = :next_change_on "
        "WHERE unit_id = :unit_id"
    )
    await session.execute(sql, rows)


async def add_history(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    sql = text(
        """
        INSERT INTO credit.grade_history (unit_id, uscc, grade, previous_grade, score, explanation,
                                          policy_version, evaluated_on, reason, actor)
        VALUES (:unit_id, :uscc, :grade, :previous_grade, :score, CAST(:explanation AS jsonb),
                :policy_version, :evaluated_on, :reason, :actor)
        """
    )
    await session.execute(sql, rows)


async def feed(session: AsyncSession, entries: list[dict[str, Any]]) -> None:
    await append_changes(session, entries)


async def dequeue(session: AsyncSession, unit_ids: Sequence[int]) -> None:
    await session.execute(
        text("DELETE FROM credit.grade_queue WHERE unit_id = ANY(:ids)").bindparams(_IDS),
        {"ids": list(unit_ids)},
    )


async def claim_queue(session: AsyncSession, limit: int) -> list[int]:
    sql = text(
        "SELECT unit_id FROM credit.grade_queue ORDER BY queued_at, unit_id LIMIT :limit "
        "FOR UPDATE SKIP LOCKED"
    )
    return [r[0] for r in (await session.execute(sql, {"limit": limit})).all()]


async def due_units(session: AsyncSession, today: dt.date, after_id: int, limit: int) -> list[int]:
    """Units whose grade may change by time alone by `today` (a window ended, a listing expired)."""
    sql = text(
        "SELECT unit_id FROM credit.grades WHERE next_change_on <= :today AND unit_id > :after "
        "ORDER BY unit_id LIMIT :limit"
    )
    return [
        r[0] for r in (await session.execute(sql, {"today": today, "after": after_id, "limit": limit})).all()
    ]


async def units_with_facts(session: AsyncSession, after_id: int, limit: int) -> list[int]:
    """Units that have records, listings or a stored grade (every other unit grades as if empty)."""
    sql = text(
        """
        SELECT id FROM credit.units u
        WHERE u.id > :after AND (EXISTS (SELECT 1 FROM credit.records r WHERE r.unit_id = u.id)
              OR EXISTS (SELECT 1 FROM credit.grades g WHERE g.unit_id = u.id)
              OR EXISTS (SELECT 1 FROM credit.listings l WHERE l.unit_id = u.id))
        ORDER BY u.id LIMIT :limit
        """
    )
    return [r[0] for r in (await session.execute(sql, {"after": after_id, "limit": limit})).all()]


async def count_units(session: AsyncSession) -> int:
    return int((await session.execute(text("SELECT count(*) FROM credit.units"))).scalar_one())


async def count_units_with_facts(session: AsyncSession) -> int:
    sql = text(
        """
        SELECT count(*) FROM credit.units u
        WHERE EXISTS (SELECT 1 FROM credit.records r WHERE r.unit_id = u.id)
           OR EXISTS (SELECT 1 FROM credit.grades g WHERE g.unit_id = u.id)
           OR EXISTS (SELECT 1 FROM credit.listings l WHERE l.unit_id = u.id)
        """
    )
    return int((await session.execute(sql)).scalar_one())
