"""All SQL of the records domain."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Row, Table, and_, func, insert, literal, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.credit.records.models import Record, RecordPerson, RecordVersion
from services.credit.units.models import Unit, UnitPerson

_records = cast(Table, Record.__table__)
_versions = cast(Table, RecordVersion.__table__)
_links = cast(Table, RecordPerson.__table__)
_persons = cast(Table, UnitPerson.__table__)
_units = cast(Table, Unit.__table__)


def _persons_json() -> Any:
    return (
        select(
            func.coalesce(
                func.jsonb_agg(
                    func.jsonb_build_object(
                        "role",
                        _links.c.role,
                        "name",
                        _persons.c.name,
                        "masked",
                        _persons.c.id_masked,
                        "cipher",
                        func.encode(_persons.c.id_cipher, "base64"),
                    )
                ),
                text("'[]'::jsonb"),
            )
        )
        .select_from(_links.join(_persons, _persons.c.id == _links.c.person_id))
        .where(_links.c.record_id == _records.c.id)
        .scalar_subquery()
        .label("persons")
    )


def _record_select() -> Any:
    return select(_records, _persons_json(), func.now().label("as_of"))


async def unit_id_of(session: AsyncSession, uscc: str) -> int | None:
    return (await session.execute(select(_units.c.id).where(_units.c.uscc == uscc))).scalar_one_or_none()


async def get(session: AsyncSession, record_id: uuid.UUID, *, lock: bool = False) -> Row[Any] | None:
    query = _record_select().where(_records.c.id == record_id)
    if lock:
        query = query.with_for_update(of=_records)
    return (await session.execute(query)).first()


async def by_natural_key(session: AsyncSession, department: str, document_no: str) -> Any:
    query = select(_records.c.id, _records.c.request_hash).where(
        _records.c.department == department, _records.c.document_no == document_no
    )
    return (await session.execute(query)).first()


async def insert_record(session: AsyncSession, values: dict[str, Any]) -> bool:
    """False when the natural key was taken (possibly by a concurrent writer)."""
    stmt = pg_insert(_records).values(values).on_conflict_do_nothing().returning(_records.c.id)
    return (await session.execute(stmt)).first() is not None


async def update_record(session: AsyncSession, record_id: uuid.UUID, values: dict[str, Any]) -> None:
    await session.execute(update(_records).where(_records.c.id == record_id).values(**values, updated_at=func.now()))


async def add_version(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(insert(_versions).values(values))


async def history(session: AsyncSession, record_id: uuid.UUID) -> Sequence[Row[Any]]:
    return (
        await session.execute(select(_versions).where(_versions.c.record_id == record_id).order_by(_versions.c.version))
    ).all()


async def link_persons(
    session: AsyncSession, record_id: uuid.UUID, unit_id: int, persons: list[dict[str, Any]]
) -> None:
    """Link the persons a decision names to the unit's persons, adding those the registry lacks
    (not current: the registry did not report them)."""
    await session.execute(_links.delete().where(_links.c.record_id == record_id))
    if not persons:
        return
    await session.execute(
        pg_insert(_persons).on_conflict_do_nothing(index_elements=["unit_id", "role", "id_hash"]),
        [{**p, "unit_id": unit_id, "current": False} for p in persons],
    )
    keys = [(p["role"], p["id_hash"]) for p in persons]
    ids = await session.execute(
        select(_persons.c.id, _persons.c.role).where(
            _persons.c.unit_id == unit_id, tuple_(_persons.c.role, _persons.c.id_hash).in_(keys)
        )
    )
    await session.execute(insert(_links), [{"record_id": record_id, "person_id": i, "role": r} for i, r in ids])


async def list_for_unit(
    session: AsyncSession, unit_id: int, *, after: tuple[dt.date, uuid.UUID] | None, limit: int
) -> Sequence[Row[Any]]:
    """Newest decision first; the cursor is the (decision_date, id) of the last row seen."""
    conditions = [_records.c.unit_id == unit_id]
    if after:
        conditions.append(
            tuple_(_records.c.decision_date, _records.c.id) < tuple_(literal(after[0]), literal(after[1]))
        )
    query = (
        _record_select()
        .where(and_(*conditions))
        .order_by(_records.c.decision_date.desc(), _records.c.id.desc())
        .limit(limit)
    )
    return (await session.execute(query)).all()
