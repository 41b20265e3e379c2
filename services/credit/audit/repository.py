"""All SQL of the audit trail."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Row, Table, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.credit.audit import chain
from services.credit.audit.models import AuditEntry, AuditSeal
from services.kit.db import driver_connection, unnest_insert

_log = cast(Table, AuditEntry.__table__)
_seals = cast(Table, AuditSeal.__table__)
SEALER_LOCK = 0x5EA1_A0D1


ENTRY_COLUMNS = (*chain.ENTRY_FIELDS, "row_hash")


_ENTRY_TYPES = {"at": "timestamptz", "status": "integer", "row_hash": "bytea"}
# one statement, so one round trip and its own transaction (BEGIN, COPY and COMMIT took four)
_INSERT_ENTRIES = unnest_insert("credit.audit_log", ENTRY_COLUMNS, _ENTRY_TYPES)


async def insert_entries(apg: Any, entries: list[dict[str, Any]]) -> None:
    """A group of entries in one statement: all of them or none, under one transaction id."""
    await apg.execute(_INSERT_ENTRIES, *([e.get(c) for e in entries] for c in ENTRY_COLUMNS))


async def take_sealer_lock(session: AsyncSession) -> bool:
    got = await session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": SEALER_LOCK})
    return bool(got.scalar_one())


async def last_seal(session: AsyncSession) -> Any:
    query = select(_seals).order_by(_seals.c.position.desc()).limit(1)
    return (await session.execute(query)).first()


_PENDING = text(
    """
    SELECT id, txid, row_hash FROM credit.audit_log
    WHERE (txid, id) > (CAST(:txid AS xid8), :id)
      AND txid < pg_snapshot_xmin(pg_current_snapshot())
    ORDER BY txid, id
    LIMIT :limit
    """
)


async def pending(session: AsyncSession, *, txid: int, entry_id: int, limit: int) -> Sequence[Row[Any]]:
    """Entries after the last sealed one, only from transactions older than every running one."""
    return (await session.execute(_PENDING, {"txid": txid, "id": entry_id, "limit": limit})).all()


SEAL_COLUMNS = ("position", "audit_id", "audit_txid", "chain_hash", "algorithm")


async def add_seals(session: AsyncSession, seals: list[dict[str, Any]]) -> None:
    if seals:
        apg = await driver_connection(session)
        await apg.copy_records_to_table(
            "audit_seals",
            schema_name="credit",
            columns=SEAL_COLUMNS,
            records=[tuple(s[c] for c in SEAL_COLUMNS) for s in seals],
        )


async def seals_with_entries(session: AsyncSession, *, after_position: int, limit: int) -> Sequence[Row[Any]]:
    query = text(
        """
        SELECT s.position, s.audit_id, s.chain_hash, s.algorithm, l.*
        FROM credit.audit_seals s LEFT JOIN credit.audit_log l ON l.id = s.audit_id
        WHERE s.position > :after ORDER BY s.position LIMIT :limit
        """
    )
    return (await session.execute(query, {"after": after_position, "limit": limit})).all()


async def unsealed_count(session: AsyncSession) -> int:
    query = text(
        "SELECT count(*) FROM credit.audit_log l WHERE NOT EXISTS "
        "(SELECT 1 FROM credit.audit_seals s WHERE s.audit_id = l.id)"
    )
    return int((await session.execute(query)).scalar_one())


# The unit and case indexes lead with the entry's day (migration c0005): the days present are walked
# one index probe at a time (a loose index scan), and each day is looked up by its key.
_DAY = "((l.at AT TIME ZONE 'UTC')::date)"
_ENTRIES_BY = """
WITH RECURSIVE days(day) AS (
    SELECT min({day}) FROM credit.audit_log l WHERE l.{column} IS NOT NULL
    UNION ALL
    SELECT (SELECT min({day}) FROM credit.audit_log l WHERE l.{column} IS NOT NULL AND {day} > days.day)
    FROM days WHERE days.day IS NOT NULL
)
SELECT l.* FROM days JOIN credit.audit_log l ON {day} = days.day AND l.{column} = :value
"""


async def entries_for(session: AsyncSession, *, case_id: str | None, uscc: str | None) -> Sequence[Row[Any]]:
    if case_id is not None:
        column, value = "case_id", case_id
    elif uscc is not None:
        column, value = "subject_uscc", uscc
    else:
        return (await session.execute(select(_log).order_by(_log.c.at, _log.c.id))).all()
    sql = text(_ENTRIES_BY.format(day=_DAY, column=column))  # the column is one of two constants
    rows = list((await session.execute(sql, {"value": value})).all())
    if case_id is not None and uscc is not None:
        rows = [r for r in rows if r.subject_uscc == uscc]
    return sorted(rows, key=lambda r: (r.at, r.id))
