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
# the whole batch, on the asyncpg connection under the session's transaction (no per-row statements).
#
# Each column of a batch travels as ONE text parameter, its values joined by U+001F (unit separator),
# that `string_to_array(…, E'\x1f', '')` splits back into an array ('' is NULL), cast to the column's
# type: dates as ISO text, match hashes and ciphertexts as hex. Binary array parameters cost the
# driver two `isinstance` checks against `collections.abc` classes and an encoder call per element,
# which made these few statements the largest share of the import's CPU. A value that contains
# U+001F or is the empty string could not travel that way: no validated unit or person carries one
# (control characters are refused in every text, texts have at least one character, codes are
# alphanumeric), and should a stored value ever hold one, the batch's columns go as text arrays
# instead (`_packed`), with the same statements otherwise.

# the content hash's columns in its key order (sorted: `service._content_hash` sorts the keys); the
# import carries a unit as these values, in this order, plus its content hash
HASHED_COLUMNS = tuple(sorted((*UNIT_COLUMNS, "uscc_override_reason")))
USCC_AT = HASHED_COLUMNS.index("uscc")

_SEP = "\x1f"
_DATES = frozenset(("reg_status_date", "established_on"))


def _texts(column: Sequence[Any], sql_type: str) -> Sequence[str | None]:
    if sql_type == "text":
        return column
    if sql_type == "date":
        return [None if v is None else v.isoformat() for v in column]
    return [None if v is None else str(v) for v in column]  # integers


def _packed(columns: list[Sequence[Any]], types: tuple[str, ...]) -> tuple[list[Any], bool]:
    """The columns as statement parameters, as text: each joined into one string when every value can
    travel joined, else text arrays; and which of the two."""
    texts = [_texts(column, sql_type) for column, sql_type in zip(columns, types, strict=True)]
    joined = []
    for column in texts:
        try:
            text = _SEP.join(column)  # type: ignore[arg-type]  # a column without NULLs, the most
        except TypeError:
            text = _SEP.join(["" if v is None else v for v in column])
        if column and (text.count(_SEP) != len(column) - 1 or "" in column):
            return texts, False
        joined.append(text)
    return joined, True


def _arrays(first: int, types: tuple[str, ...], *, packed: bool) -> str:
    """`unnest`'s arguments for parameters $first… of the given element types."""
    if packed:
        return ", ".join(f"string_to_array(${i}, E'\\x1f', '')::{t}[]" for i, t in enumerate(types, start=first))
    return ", ".join(f"${i}::text[]::{t}[]" for i, t in enumerate(types, start=first))


# built once from the column constants above, never from input. The caller says, per unit, which of
# HASHED_COLUMNS its item gives (bit i for HASHED_COLUMNS[i]): those come back NULL, since the given
# value replaces them, and the driver decodes only the stored values that are kept (a re-sent batch's
# rows cost a third of the client's CPU to decode in full).
LOCK_FOR_IMPORT = (
    "SELECT u.id, u.uscc, "  # noqa: S608
    + ", ".join(f"CASE WHEN g.given & {1 << i} = 0 THEN u.{c} END" for i, c in enumerate(HASHED_COLUMNS))
    + ", u.version, encode(u.content_hash, 'hex'),"
    " (SELECT json_agg(json_build_array(p.role, p.name, encode(p.id_hash, 'hex')))::text"
    " FROM credit.unit_persons p WHERE p.unit_id = u.id AND p.current)"
    " FROM unnest(string_to_array($1, E'\\x1f'), string_to_array($2, E'\\x1f')::integer[]) AS g(uscc, given)"
    # one probe of the USCC index per unit of the batch, whatever the planner thinks of the batch's
    # size against the table's (a plain join flipped to merge-joining the whole index: 35 µs of
    # PostgreSQL per unit instead of 9 at 300,000 units); OFFSET 0 keeps the subquery a subquery.
    # Each row is locked as it is probed, so in the order of $1: `lock_for_import` sends it sorted.
    " CROSS JOIN LATERAL (SELECT * FROM credit.units u WHERE u.uscc = g.uscc OFFSET 0) u FOR UPDATE OF u"
)
# the positions in a locked unit's row
LOCKED_ID = 0
STORED_VALUES = slice(2, 2 + len(HASHED_COLUMNS))  # HASHED_COLUMNS' values (NULL where given)
LOCKED_VERSION = STORED_VALUES.stop
LOCKED_HASH = LOCKED_VERSION + 1  # content hash, hex
LOCKED_PERSONS = LOCKED_VERSION + 2  # current persons, JSON text of [role, name, match hash hex], or None

_UNIT_TYPES = tuple("date" if c in _DATES else "text" for c in HASHED_COLUMNS)
_NEW_UNIT_TYPES = (*_UNIT_TYPES, "text")  # and the content hash (hex)
_NEW_PERSON_TYPES = ("text",) * 6  # uscc, role, name, match hash (hex), ciphertext (hex), masked id
_UPDATE_TYPES = ("bigint", *_UNIT_TYPES, "text", "integer")  # unit id, values, content hash (hex), version
_PERSON_TYPES = ("bigint", "text", "text", "text", "text", "text")  # unit id, then as for new units


def _insert_units(*, packed: bool) -> str:
    return (
        "WITH new AS ("  # noqa: S608
        f"INSERT INTO credit.units ({', '.join(HASHED_COLUMNS)}, content_hash, version, updated_by)"
        f" SELECT {', '.join('v.' + c for c in HASHED_COLUMNS)}, decode(v.content_hash, 'hex'), 1, $1"
        f" FROM unnest({_arrays(2, _NEW_UNIT_TYPES, packed=packed)})"
        f" AS v({', '.join(HASHED_COLUMNS)}, content_hash)"
        " ON CONFLICT (uscc) DO NOTHING RETURNING uscc, id"
        "), persons AS ("
        "INSERT INTO credit.unit_persons (unit_id, role, name, id_hash, id_cipher, id_masked, current)"
        " SELECT new.id, p.role, p.name, decode(p.h, 'hex'), decode(p.c, 'hex'), p.m, true"
        f" FROM unnest({_arrays(len(_NEW_UNIT_TYPES) + 2, _NEW_PERSON_TYPES, packed=packed)}) WITH ORDINALITY"
        " AS p(uscc, role, name, h, c, m, n) JOIN new ON new.uscc = p.uscc ORDER BY p.n"
        ") SELECT uscc FROM new"
    )


_IMPORT_NEW_UNITS = {packed: _insert_units(packed=packed) for packed in (True, False)}


async def lock_for_import(session: AsyncSession, usccs: list[str], given: list[int]) -> dict[str, Any]:
    """The stored units among `usccs` (validated codes, each once), locked (in USCC order, so concurrent
    batches do not deadlock), by USCC: rows of id, uscc, HASHED_COLUMNS' stored values except those the
    unit's `given` bits name (NULL), version, content hash (hex) and current persons (LOCKED_ID, …)."""
    bits = dict(zip(usccs, given, strict=True))
    ordered = sorted(usccs)  # the lock order: two batches wait for each other, never deadlock
    apg = await driver_connection(session)
    rows = await apg.fetch(LOCK_FOR_IMPORT, _SEP.join(ordered), _SEP.join([str(bits[u]) for u in ordered]))
    return {r[1]: r for r in rows}


async def import_new_units(
    session: AsyncSession, rows: list[tuple[Any, ...]], persons: list[tuple[str, str, str, str, str, str]], writer: str
) -> set[str]:
    """Insert new units with their persons, in one statement; the USCCs inserted. A unit created
    meanwhile by a concurrent writer is skipped (with its persons) and handled by the caller as an update.

    rows: HASHED_COLUMNS values and the content hash (hex), written as version 1 by `writer`;
    persons: (uscc, role, name, match hash hex, ciphertext hex, masked id), written in this order."""
    if not rows:
        return set()
    columns: list[Sequence[Any]] = list(zip(*rows, strict=True))
    columns += list(zip(*persons, strict=True)) if persons else [() for _ in _NEW_PERSON_TYPES]
    params, packed = _packed(columns, (*_NEW_UNIT_TYPES, *_NEW_PERSON_TYPES))
    apg = await driver_connection(session)
    return {r[0] for r in await apg.fetch(_IMPORT_NEW_UNITS[packed], writer, *params)}


def _update_units(*, packed: bool) -> str:
    return (
        "UPDATE credit.units u SET "  # noqa: S608
        + ", ".join(f"{c} = v.{c}" for c in HASHED_COLUMNS)
        + ", content_hash = decode(v.content_hash, 'hex'), version = v.version, updated_by = $1,"
        + f" updated_at = now() FROM unnest({_arrays(2, _UPDATE_TYPES, packed=packed)})"
        + f" AS v(id, {', '.join(HASHED_COLUMNS)}, content_hash, version) WHERE u.id = v.id"
        # the same rows, said twice: the planner then probes the primary key for the batch's ids
        # instead of merge-joining the whole index (measured: 190 -> 110 ms a batch at 300,000 units)
        + (
            " AND u.id = ANY(string_to_array($2, E'\\x1f')::bigint[])"
            if packed
            else " AND u.id = ANY($2::text[]::bigint[])"
        )
    )


_UPDATE_UNITS = {packed: _update_units(packed=packed) for packed in (True, False)}


async def update_units_set(session: AsyncSession, rows: list[tuple[Any, ...]], writer: str) -> None:
    """rows: (unit id, HASHED_COLUMNS values, content hash hex, new version); the units are locked by
    the caller."""
    if not rows:
        return
    params, packed = _packed(list(zip(*rows, strict=True)), _UPDATE_TYPES)
    apg = await driver_connection(session)
    await apg.execute(_UPDATE_UNITS[packed], writer, *params)


_RETIRE_PERSONS = (
    "UPDATE credit.unit_persons SET current = false"
    " WHERE unit_id = ANY(string_to_array($1, E'\\x1f')::bigint[]) AND current"
)


def _upsert_current_persons(*, packed: bool) -> str:
    return (
        "INSERT INTO credit.unit_persons (unit_id, role, name, id_hash, id_cipher, id_masked, current)"  # noqa: S608
        " SELECT u, r, n, decode(h, 'hex'), decode(c, 'hex'), m, true"
        f" FROM unnest({_arrays(1, _PERSON_TYPES, packed=packed)})"
        " AS v(u, r, n, h, c, m)"
        " ON CONFLICT (unit_id, role, id_hash) DO UPDATE SET name = excluded.name, current = true"
    )


_UPSERT_PERSONS = {packed: _upsert_current_persons(packed=packed) for packed in (True, False)}


async def replace_persons_set(
    session: AsyncSession, unit_ids: list[int], persons: list[tuple[int, str, str, str, str, str]]
) -> None:
    """The given persons become the units' current ones; the others stay, no longer current.
    persons: (unit id, role, name, match hash hex, ciphertext hex, masked id)."""
    if not unit_ids:
        return
    apg = await driver_connection(session)
    await apg.execute(_RETIRE_PERSONS, _SEP.join(map(str, unit_ids)))
    if persons:
        params, packed = _packed(list(zip(*persons, strict=True)), _PERSON_TYPES)
        await apg.execute(_UPSERT_PERSONS[packed], *params)
