"""All SQL of credit checks. The check path speaks asyncpg directly: one set-based read of everything
a check needs (unit, grade, listings, records) and one insert per check (COPY for a batch)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg
from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.db import unnest_insert

_UNIT_FACTS = """
SELECT u.id, u.uscc, u.name, u.unit_type, u.fire_class, u.reg_status, u.reg_status_date, u.region_code,
       g.grade, g.score, g.explanation::text AS explanation, g.next_change_on,
       EXISTS (SELECT 1 FROM credit.grade_queue q WHERE q.unit_id = u.id) AS stale,
       (SELECT json_agg(json_build_array(
                   r.id, r.record_type, r.document_no, r.department, r.severity, r.polarity, r.decision_date,
                   r.publish_until, r.query_until, r.published, r.state, r.disputed, r.legal_basis,
                   r.body->'details'->>'kind'))::text
          FROM credit.records r WHERE r.unit_id = u.id) AS records,
       (SELECT json_agg(json_build_array(
                   l.id, l.subject_kind, p.role, p.name, l.ground, l.state, l.listed_on, l.list_until))::text
          FROM credit.listings l LEFT JOIN credit.unit_persons p ON p.id = l.person_id
         WHERE l.unit_id = u.id AND l.state IN ('proposed', 'notice_issued', 'listed')) AS listings
FROM credit.units u LEFT JOIN credit.grades g ON g.unit_id = u.id
"""
_ONE = _UNIT_FACTS + " WHERE u.uscc = $1"
# a join on the unnested list (not `= ANY`): the planner then looks each code up by its index
_MANY = _UNIT_FACTS.replace(
    "FROM credit.units u LEFT JOIN",
    "FROM unnest($1::varchar[]) AS wanted(uscc) JOIN credit.units u ON u.uscc = wanted.uscc LEFT JOIN",
)

CHECK_COLUMNS = (
    "id",
    "code",
    "batch_id",
    "uscc",
    "unit_id",
    "scenario",
    "case_ref",
    "purpose",
    "department",
    "officer",
    "client_id",
    "result",
    "grade",
    "hit",
    "check_date",
    "feedback_due",
    "answer",
    "answer_hash",
    "policy_version",
    "created_at",
)
_INSERT = (  # column names are constants
    f"INSERT INTO credit.checks ({', '.join(CHECK_COLUMNS)}) VALUES "  # noqa: S608
    f"({', '.join(f'${i}' + ('::json' if c == 'answer' else '') for i, c in enumerate(CHECK_COLUMNS, 1))})"
)


async def unit_facts(conn: asyncpg.Connection, uscc: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(_ONE, uscc)
    return row


async def units_facts(conn: asyncpg.Connection, usccs: Sequence[str]) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(_MANY, list(usccs))
    return rows


async def now(conn: asyncpg.Connection) -> dt.datetime:
    value: dt.datetime = await conn.fetchval("SELECT now()")
    return value


async def insert_check(conn: asyncpg.Connection, values: tuple[Any, ...]) -> None:
    await conn.execute(_INSERT, *values)


_CHECK_TYPES = {
    "id": "uuid",
    "batch_id": "uuid",
    "unit_id": "bigint",
    "hit": "boolean",
    "check_date": "date",
    "feedback_due": "date",
    "answer": "json",
    "created_at": "timestamptz",
}
# single checks of concurrent requests, stored together: one statement, one round trip, one commit
_INSERT_GROUP = unnest_insert("credit.checks", CHECK_COLUMNS, _CHECK_TYPES)


async def insert_check_group(conn: asyncpg.Connection, rows: list[tuple[Any, ...]]) -> None:
    await conn.execute(_INSERT_GROUP, *(list(column) for column in zip(*rows, strict=True)))


async def insert_checks(conn: asyncpg.Connection, rows: list[tuple[Any, ...]]) -> None:
    """A batch: COPY (binary) when the connection is ours alone, one statement either way."""
    await conn.copy_records_to_table("checks", schema_name="credit", columns=list(CHECK_COLUMNS), records=rows)


async def get_check(conn: asyncpg.Connection, check_id: uuid.UUID) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT id, code, department, uscc, grade, created_at, answer_hash, answer::text AS answer "
        "FROM credit.checks WHERE id = $1",
        check_id,
    )
    return row


async def loaded_years(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT y.year, y.source, d.day, d.kind, d.name FROM credit.calendar_years y "
        "LEFT JOIN credit.calendar_days d ON d.year = y.year ORDER BY y.year, d.day"
    )
    return rows


# --- feedback and statistics (not the hot path: SQLAlchemy Core through the request's session) ---


async def check_for_feedback(session: AsyncSession, check_id: uuid.UUID) -> Row[Any] | None:
    sql = text(
        "SELECT c.id, c.department, c.check_date, c.feedback_due, c.answer->'measures' AS measures, "
        "f.check_id IS NOT NULL AS has_feedback "
        "FROM credit.checks c LEFT JOIN credit.check_feedback f ON f.check_id = c.id WHERE c.id = :id"
    )
    return (await session.execute(sql, {"id": check_id})).first()


async def insert_feedback(session: AsyncSession, values: dict[str, Any]) -> bool:
    sql = text(
        """
        INSERT INTO credit.check_feedback (check_id, department, officer, outcome, decided_on, measures,
                                           measures_applied, note, client_id, on_time)
        VALUES (:check_id, :department, :officer, :outcome, :decided_on, CAST(:measures AS jsonb),
                :measures_applied, :note, :client_id, :on_time)
        ON CONFLICT (check_id) DO NOTHING
        """
    )
    result = await session.execute(sql, values)
    return bool(getattr(result, "rowcount", 0))


async def get_feedback(session: AsyncSession, check_id: uuid.UUID) -> Row[Any] | None:
    sql = text(
        "SELECT check_id, department, officer, outcome, decided_on, measures, measures_applied, note, "
        "on_time, recorded_at FROM credit.check_feedback WHERE check_id = :id"
    )
    return (await session.execute(sql, {"id": check_id})).first()


async def statistics(
    session: AsyncSession,
    *,
    date_from: dt.date,
    date_to: dt.date,
    today: dt.date,
    department: str | None,
    scenario: str | None,
) -> Sequence[Row[Any]]:
    sql = text(
        """
        SELECT c.department, c.scenario,
               count(*) AS checks,
               count(*) FILTER (WHERE c.hit) AS hits,
               count(*) FILTER (WHERE c.result = 'unknown') AS unknown,
               count(f.check_id) AS feedback,
               coalesce(sum(f.measures_applied), 0) AS measures_applied,
               count(*) FILTER (WHERE f.check_id IS NULL AND c.feedback_due < :today) AS overdue_feedback
        FROM credit.checks c LEFT JOIN credit.check_feedback f ON f.check_id = c.id
        WHERE c.check_date BETWEEN :date_from AND :date_to
          AND (CAST(:department AS text) IS NULL OR c.department = :department)
          AND (CAST(:scenario AS text) IS NULL OR c.scenario = :scenario)
        GROUP BY c.department, c.scenario
        ORDER BY c.department, c.scenario
        """
    )
    params = {
        "date_from": date_from,
        "date_to": date_to,
        "today": today,
        "department": department,
        "scenario": scenario,
    }
    return (await session.execute(sql, params)).all()


async def overdue(
    session: AsyncSession, *, department: str, today: dt.date, after: uuid.UUID | None, limit: int
) -> Sequence[Row[Any]]:
    sql = text(
        """
        SELECT c.id, c.uscc, c.scenario, c.case_ref, c.officer, c.check_date, c.feedback_due, c.grade, c.hit
        FROM credit.checks c
        WHERE c.department = :department AND c.feedback_due < :today
          AND NOT EXISTS (SELECT 1 FROM credit.check_feedback f WHERE f.check_id = c.id)
          AND (CAST(:after AS uuid) IS NULL OR c.id > :after)
        ORDER BY c.id LIMIT :limit
        """
    )
    params = {"department": department, "today": today, "after": after, "limit": limit}
    return (await session.execute(sql, params)).all()
