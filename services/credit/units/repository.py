"""All SQL of the units domain. Reads are single set-based statements (Core), no ORM identity map."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Row, Table, and_, bindparam, func, select, text, true, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.credit.units.models import Unit, UnitPerson
from services.kit.db import driver_connection, unnest_insert

UNIT_COLUMNS = (
    "uscc",
    "name",
    "unit_type",
    "fire_class",
    "reg_status",
    "reg_status_date",
    "reg_authority",
    "region_code",
    "industry_code",
    "address",
    "established_on",
)

_units = cast(Table, Unit.__table__)
_persons = cast(Table, UnitPerson.__table__)


def _persons_json(*, for_answer: bool) -> Any:
    """Current persons as JSON: what an answer shows (mask, ciphertext), or only what the writer
    compares (the match hash), so a 10,000-unit upsert does not encode ciphertexts it never reads."""
    fields: list[Any] = ["id", _persons.c.id, "role", _persons.c.role, "name", _persons.c.name]
    if for_answer:
        fields += ["masked", _persons.c.id_masked, "cipher", func.encode(_persons.c.id_cipher, "base64")]
    else:
        fields += ["hash", func.encode(_persons.c.id_hash, "hex")]
    return (
        select(
            func.coalesce(
                func.jsonb_agg(func.jsonb_build_object(*fields)).filter(_persons.c.current),
                text("'[]'::jsonb"),
            )
        )
        .where(_persons.c.unit_id == _units.c.id)
        .scalar_subquery()
        .label("persons")
    )


# the hot single-unit read, as one statement for the read pool (asyncpg prepares and caches it)
UNIT_BY_USCC = """
SELECT u.*, COALESCE((
        SELECT jsonb_agg(jsonb_build_object('id', p.id, 'role', p.role, 'name', p.name, 'masked', p.id_masked,
                                            'cipher', encode(p.id_cipher, 'base64')))
        FROM credit.unit_persons p WHERE p.unit_id = u.id AND p.current
    ), '[]'::jsonb) AS persons, now() AS as_of
FROM credit.units u WHERE u.uscc = $1
"""


def _unit_select(*, for_answer: bool = True) -> Any:
    return select(_units, _persons_json(for_answer=for_answer), func.now().label("as_of"))


async def get_by_uscc(session: AsyncSession, uscc: str) -> Row[Any] | None:
    return (await session.execute(_unit_select().where(_units.c.uscc == uscc))).first()


async def lock_many(session: AsyncSession, usccs: Sequence[str]) -> dict[str, Row[Any]]:
    rows = await session.execute(
        _unit_select(for_answer=False)
        .where(_units.c.uscc == func.any(bindparam("usccs", list(usccs))))
        .with_for_update(of=_units)
    )
    return {r.uscc: r for r in rows}


async def list_page(
    session: AsyncSession,
    *,
    after_id: int | None,
    limit: int,
    region_code: str | None,
    fire_class: str | None,
    reg_status: str | None,
    name_contains: str | None,
) -> Sequence[Row[Any]]:
    conditions = []
    if after_id is not None:
        conditions.append(_units.c.id > after_id)
    if region_code:
        conditions.append(_units.c.region_code == region_code)
    if fire_class:
        conditions.append(_units.c.fire_class == fire_class)
    if reg_status:
        conditions.append(_units.c.reg_status == reg_status)
    if name_contains:
        escaped = name_contains.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(_units.c.name.ilike(f"%{escaped}%", escape="\\"))
    query = _unit_select().where(and_(true(), *conditions)).order_by(_units.c.id).limit(limit)
    return (await session.execute(query)).all()


INSERT_COLUMNS = (*UNIT_COLUMNS, "uscc_override_reason", "version", "content_hash", "updated_by")
PERSON_COLUMNS = ("unit_id", "role", "name", "id_hash", "id_cipher", "id_masked", "current")


_COLUMN_TYPES = {
    "reg_status_date": "date",
    "established_on": "date",
    "version": "integer",
    "content_hash": "bytea",
}


# built once from the column constants above, never from input
_INSERT_NEW_UNITS = (
    unnest_insert("credit.units", INSERT_COLUMNS, _COLUMN_TYPES)
    + " ON CONFLICT (uscc) DO NOTHING RETURNING uscc, id, version"
)


async def insert_units(session: AsyncSession, rows: list[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    """Insert new units; returns uscc -> (id, version) for those inserted. A unit created meanwhile
    by a concurrent writer is skipped here and handled by the caller as an update. One statement:
    each column travels as one array parameter and `unnest` turns them back into rows."""
    if not rows:
        return {}
    apg = await driver_connection(session)
    inserted = await apg.fetch(_INSERT_NEW_UNITS, *([r[c] for r in rows] for c in INSERT_COLUMNS))
    return {r["uscc"]: (r["id"], r["version"]) for r in inserted}


async def insert_persons_of_new_units(session: AsyncSession, by_unit: dict[int, list[dict[str, Any]]]) -> None:
    """Persons of units created in this transaction cannot clash with stored ones: plain COPY."""
    records = [
        (uid, p["role"], p["name"], p["id_hash"], p["id_cipher"], p["id_masked"], True)
        for uid, persons in by_unit.items()
        for p in persons
    ]
    if records:
        apg = await driver_connection(session)
        await apg.copy_records_to_table("unit_persons", schema_name="credit", records=records, columns=PERSON_COLUMNS)


async def update_units(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Each row carries `b_id` (the unit, locked by the caller) plus the new values."""
    if not rows:
        return
    columns = [c for c in rows[0] if c != "b_id"]
    values: dict[str, Any] = {c: bindparam(f"v_{c}") for c in columns}
    params = [{"b_id": r["b_id"], **{f"v_{c}": r[c] for c in columns}} for r in rows]
    await session.execute(
        update(_units).where(_units.c.id == bindparam("b_id")).values(**values, updated_at=func.now()), params
    )


async def replace_persons_many(session: AsyncSession, by_unit: dict[int, list[dict[str, Any]]]) -> None:
    if not by_unit:
        return
    await session.execute(
        update(_persons).where(_persons.c.unit_id == func.any(bindparam("ids", list(by_unit)))).values(current=False)
    )
    flat = [{**p, "unit_id": uid, "current": True} for uid, ps in by_unit.items() for p in ps]
    if flat:
        await _upsert_persons(session, flat)


async def _upsert_persons(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    stmt = pg_insert(_persons)
    stmt = stmt.on_conflict_do_update(
        index_elements=["unit_id", "role", "id_hash"], set_={"name": stmt.excluded.name, "current": True}
    )
    await session.execute(stmt, rows)


async def record_unit_changes(session: AsyncSession, items: list[tuple[str, str, int]]) -> None:
    """items: (uscc, operation, version); copied straight into the feed (txid comes from the default)."""
    if items:
        apg = await driver_connection(session)
        await apg.copy_records_to_table(
            "changes",
            schema_name="credit",
            records=[("unit", u, u, op, v, "{}") for u, op, v in items],
            columns=("entity", "entity_id", "uscc", "operation", "version", "data"),
        )


# ---------------------------------------------------------------------------- the import path
# `POST /v1/units:import` (services/credit/units/importer.py): every statement is one round trip for
# the whole batch, on the asyncpg connection under the session's transaction; columns travel as
# binary array parameters and `unnest` turns them back into rows (no per-row statements).

# built once from the column constants above, never from input
LOCK_FOR_IMPORT = (
    f"SELECT u.id, {', '.join('u.' + c for c in UNIT_COLUMNS)}, u.uscc_override_reason, u.version,"  # noqa: S608
    " u.content_hash, (SELECT json_agg(json_build_array(p.role, p.name, encode(p.id_hash, 'hex')))::text"
    " FROM credit.unit_persons p WHERE p.unit_id = u.id AND p.current) AS persons"
    " FROM credit.units u WHERE u.uscc = ANY($1::text[]) ORDER BY u.uscc FOR UPDATE OF u"
)

UPDATE_COLUMNS = (*UNIT_COLUMNS, "uscc_override_reason", "version", "content_hash", "updated_by")

_UPDATE_UNITS = (
    "UPDATE credit.units u SET "  # noqa: S608
    + ", ".join(f"{c} = v.{c}" for c in UPDATE_COLUMNS)
    + ", updated_at = now() FROM unnest($1::bigint[], "
    + ", ".join(f"${i}::{_COLUMN_TYPES.get(c, 'text')}[]" for i, c in enumerate(UPDATE_COLUMNS, start=2))
    + f") AS v(id, {', '.join(UPDATE_COLUMNS)}) WHERE u.id = v.id"
)

_RETIRE_PERSONS = "UPDATE credit.unit_persons SET current = false WHERE unit_id = ANY($1::bigint[]) AND current"
_UPSERT_PERSONS = (
    "INSERT INTO credit.unit_persons (unit_id, role, name, id_hash, id_cipher, id_masked, current)"
    " SELECT u, r, n, h, c, m, true FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bytea[], $5::bytea[],"
    " $6::text[]) AS v(u, r, n, h, c, m)"
    " ON CONFLICT (unit_id, role, id_hash) DO UPDATE SET name = excluded.name, current = true"
)


async def lock_for_import(session: AsyncSession, usccs: list[str]) -> dict[str, Any]:
    """The stored units among `usccs`, locked (in USCC order, so concurrent batches do not deadlock),
    with their current persons as (role, name, match hash hex)."""
    apg = await driver_connection(session)
    rows = await apg.fetch(LOCK_FOR_IMPORT, usccs)
    return {r["uscc"]: r for r in rows}


async def update_units_set(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Each row carries `b_id` (the unit, locked by the caller) and every column of UPDATE_COLUMNS."""
    if not rows:
        return
    apg = await driver_connection(session)
    await apg.execute(_UPDATE_UNITS, [r["b_id"] for r in rows], *([r[c] for r in rows] for c in UPDATE_COLUMNS))


async def replace_persons_set(session: AsyncSession, by_unit: dict[int, list[dict[str, Any]]]) -> None:
    """The given persons become the units' current ones; the others stay, no longer current."""
    if not by_unit:
        return
    apg = await driver_connection(session)
    await apg.execute(_RETIRE_PERSONS, list(by_unit))
    flat = [(uid, p) for uid, persons in by_unit.items() for p in persons]
    if flat:
        await apg.execute(
            _UPSERT_PERSONS,
            [u for u, _ in flat],
            [p["role"] for _, p in flat],
            [p["name"] for _, p in flat],
            [p["id_hash"] for _, p in flat],
            [p["id_cipher"] for _, p in flat],
            [p["id_masked"] for _, p in flat],
        )
