"""Unit rules: USCC validation with an audited override, protected persons, versioned updates and
the nightly bulk upsert (per item: created / updated / unchanged / rejected, never a silent drop)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from typing import Any, Protocol

import orjson
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from services.credit.context import CreditContext
from services.credit.units import repository as repo
from services.credit.units.errors import (
    duplicate_in_batch,
    unit_exists,
    unit_not_found,
    uscc_invalid,
    version_mismatch,
)
from services.credit.units.schemas import (
    REG_STATUS_LABELS,
    BulkCounts,
    BulkItemResult,
    BulkUpsertOut,
    PersonIn,
    UnitIn,
    UnitPatch,
)
from services.kit.auth import Principal
from services.kit.errors import FieldError, ProblemError
from services.kit.ids import uscc_problem

_unit_adapter: TypeAdapter[UnitIn] = TypeAdapter(UnitIn)


def check_uscc(unit: UnitIn, principal: Principal, *, field: str = "uscc") -> FieldError | None:
    return uscc_error(unit.uscc, unit.uscc_override is not None, principal, field=field)


def uscc_error(uscc: str, overridden: bool, principal: Principal, *, field: str = "uscc") -> FieldError | None:
    """A normalised USCC's problem for this writer; a checksum-only problem may be overridden."""
    problem = uscc_problem(uscc)
    if problem is None:
        return None
    if not problem.checksum_only:
        return FieldError(field=field, reason=f"not a valid USCC: {problem.reason}")
    if not overridden:
        return FieldError(field=field, reason=f"not a valid USCC: {problem.reason} (an authorised client may override)")
    if not principal.has("units:override"):
        return FieldError(
            field=f"{field}_override", reason="overriding a USCC checksum needs the `units:override` scope"
        )
    return None


def _protect(ctx: CreditContext, persons: list[PersonIn]) -> list[dict[str, Any]]:
    """Match hashes only; the id is encrypted by `_seal` when the person is really written."""
    out = []
    seen: set[tuple[str, bytes]] = set()
    for p in persons:
        h = ctx.pii.match_hash(p.citizen_id)
        if (p.role, h) not in seen:
            seen.add((p.role, h))
            out.append({"role": p.role, "name": p.name, "id_hash": h, "citizen_id": p.citizen_id})
    return out


def _seal(ctx: CreditContext, persons: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "role": p["role"],
            "name": p["name"],
            "id_hash": p["id_hash"],
            "id_cipher": ctx.pii.encrypt(p["citizen_id"]),
            "id_masked": ctx.pii.mask(p["citizen_id"]),
        }
        for p in persons
    ]


def _persons_digest(persons: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return sorted(
        (p["role"], p["name"], p["id_hash"].hex() if isinstance(p["id_hash"], bytes) else p["id_hash"]) for p in persons
    )


def _content_hash(values: dict[str, Any], persons: list[tuple[str, str, str]]) -> bytes:
    canonical = {c: values.get(c) for c in repo.UNIT_COLUMNS}
    canonical["uscc_override_reason"] = values.get("uscc_override_reason")
    return hashlib.sha256(orjson.dumps([canonical, persons], default=str, option=orjson.OPT_SORT_KEYS)).digest()


def content_hash_hex(canonical: dict[str, Any], persons: Sequence[Sequence[str]]) -> str:
    """`_content_hash(canonical, persons).hex()` for a dict holding exactly `repo.HASHED_COLUMNS`, in that
    (sorted) order: the same JSON bytes, without building and sorting another dict (the import's hot
    path; equality on many inputs in tests/credit/test_units_import.py)."""
    return hashlib.sha256(orjson.dumps([canonical, persons], default=str)).hexdigest()


class RowLike(Protocol):
    """A database row read by column name: an asyncpg Record or a SQLAlchemy RowMapping."""

    def __getitem__(self, key: str, /) -> Any: ...


def unit_answer(ctx: CreditContext, row: RowLike, principal: Principal) -> dict[str, Any]:
    """The `UnitOut` representation, built straight from a database row (hot path: no model)."""
    show_pii = principal.has("pii:read")
    stored = row["persons"]
    persons = orjson.loads(stored) if isinstance(stored, str | bytes) else stored
    reg_status = row["reg_status"]
    return {
        "uscc": row["uscc"],
        "name": row["name"],
        "unit_type": row["unit_type"],
        "fire_class": row["fire_class"],
        "reg_status": reg_status,
        "reg_status_label": REG_STATUS_LABELS.get(reg_status, reg_status),
        "reg_status_date": row["reg_status_date"],
        "reg_authority": row["reg_authority"],
        "region_code": row["region_code"],
        "industry_code": row["industry_code"],
        "address": row["address"],
        "established_on": row["established_on"],
        "uscc_checksum_overridden": row["uscc_override_reason"] is not None,
        "persons": [
            {
                "role": p["role"],
                "name": p["name"],
                "citizen_id": ctx.pii.decrypt(base64.b64decode(p["cipher"])) if show_pii else p["masked"],
                "citizen_id_masked": not show_pii,
            }
            for p in sorted(persons, key=lambda p: (p["role"], p["id"]))
        ],
        "version": row["version"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "as_of": row["as_of"],
    }


async def get_unit(ctx: CreditContext, session: AsyncSession, uscc: str, principal: Principal) -> dict[str, Any]:
    row = await repo.get_by_uscc(session, uscc)
    if row is None:
        raise unit_not_found(uscc)
    return unit_answer(ctx, row._mapping, principal)


def _merged(unit: UnitIn, old: Row[Any] | None) -> dict[str, Any]:
    given = unit.model_dump(exclude={"persons", "uscc_override"}, exclude_unset=True)
    values = {c: given.get(c, getattr(old, c) if old is not None else None) for c in repo.UNIT_COLUMNS}
    if values["fire_class"] is None:
        values["fire_class"] = "general"
    if unit.uscc_override is not None:
        values["uscc_override_reason"] = unit.uscc_override.reason
    else:
        values["uscc_override_reason"] = old.uscc_override_reason if old is not None else None
    return values


async def create_unit(ctx: CreditContext, session: AsyncSession, unit: UnitIn, principal: Principal) -> dict[str, Any]:
    error = check_uscc(unit, principal)
    if error:
        raise uscc_invalid(error)
    if await repo.get_by_uscc(session, unit.uscc) is not None:
        raise unit_exists(unit.uscc)
    result = await _apply(ctx, session, [(0, unit)], principal)
    if result[0].outcome == "rejected":
        raise unit_exists(unit.uscc)
    return await get_unit(ctx, session, unit.uscc, principal)


async def update_unit(
    ctx: CreditContext, session: AsyncSession, uscc: str, patch: UnitPatch, if_match: int, principal: Principal
) -> dict[str, Any]:
    locked = await repo.lock_many(session, [uscc])
    old = locked.get(uscc)
    if old is None:
        raise unit_not_found(uscc)
    if old.version != if_match:
        raise version_mismatch(uscc, old.version)
    merged = UnitIn.model_validate(
        {
            **{c: getattr(old, c) for c in repo.UNIT_COLUMNS},
            **patch.model_dump(exclude_unset=True, exclude={"persons"}),
            **({"persons": patch.persons} if patch.persons is not None else {}),
        }
    )
    await _apply(ctx, session, [(0, merged)], principal, locked=locked)
    return await get_unit(ctx, session, uscc, principal)


async def bulk_upsert(
    ctx: CreditContext, session: AsyncSession, raw_items: list[Any], principal: Principal
) -> BulkUpsertOut:
    results: dict[int, BulkItemResult] = {}
    valid: list[tuple[int, UnitIn]] = []
    first_index: dict[str, int] = {}
    for index, raw in enumerate(raw_items):
        try:
            unit = _unit_adapter.validate_python(raw)
        except ValidationError as exc:
            given = raw.get("uscc") if isinstance(raw, dict) else None
            uscc = given if isinstance(given, str) else ""
            results[index] = BulkItemResult(
                index=index,
                uscc=uscc[:18],
                outcome="rejected",
                errors=[
                    FieldError(field=".".join(str(p) for p in e["loc"]) or "item", reason=e["msg"])
                    for e in exc.errors()
                ],
            )
            continue
        error = check_uscc(unit, principal)
        if error:
            results[index] = BulkItemResult(index=index, uscc=unit.uscc, outcome="rejected", errors=[error])
        elif unit.uscc in first_index:
            results[index] = BulkItemResult(
                index=index, uscc=unit.uscc, outcome="rejected", errors=[duplicate_in_batch(first_index[unit.uscc])]
            )
        else:
            first_index[unit.uscc] = index
            valid.append((index, unit))
    for r in await _apply(ctx, session, valid, principal):
        results[r.index] = r
    ordered = [results[i] for i in range(len(raw_items))]
    counts = BulkCounts(
        created=sum(r.outcome == "created" for r in ordered),
        updated=sum(r.outcome == "updated" for r in ordered),
        unchanged=sum(r.outcome == "unchanged" for r in ordered),
        rejected=sum(r.outcome == "rejected" for r in ordered),
    )
    return BulkUpsertOut(counts=counts, results=ordered, as_of=ctx.now())


async def _apply(
    ctx: CreditContext,
    session: AsyncSession,
    items: list[tuple[int, UnitIn]],
    principal: Principal,
    *,
    locked: dict[str, Row[Any]] | None = None,
) -> list[BulkItemResult]:
    """Set-based write of already validated units: lock what exists, insert the rest, update what
    changed. A unit created concurrently between our read and insert is retried once as an update."""
    pending = items
    out: list[BulkItemResult] = []
    for _attempt in range(2):
        if not pending:
            break
        existing = locked if locked is not None else await repo.lock_many(session, [u.uscc for _, u in pending])
        locked = None
        inserts: list[dict[str, Any]] = []
        insert_items: list[tuple[int, UnitIn, list[dict[str, Any]]]] = []
        updates: list[dict[str, Any]] = []
        persons_by_unit: dict[int, list[dict[str, Any]]] = {}
        changes: list[tuple[str, str, int]] = []
        for index, unit in pending:
            old = existing.get(unit.uscc)
            values = _merged(unit, old)
            if unit.persons is not None:
                protected = _protect(ctx, unit.persons)
                persons_key = _persons_digest(protected)
            else:
                protected = None
                persons_key = _persons_digest(
                    [{"role": p["role"], "name": p["name"], "id_hash": p["hash"]} for p in (old.persons if old else [])]
                )
            digest = _content_hash(values, persons_key)
            if old is None:
                inserts.append({**values, "content_hash": digest, "updated_by": principal.client_id, "version": 1})
                insert_items.append((index, unit, protected or []))
            elif old.content_hash == digest:
                out.append(BulkItemResult(index=index, uscc=unit.uscc, outcome="unchanged", version=old.version))
            else:
                version = old.version + 1
                updates.append(
                    {
                        **values,
                        "content_hash": digest,
                        "updated_by": principal.client_id,
                        "version": version,
                        "b_id": old.id,
                    }
                )
                if protected is not None:
                    persons_by_unit[old.id] = _seal(ctx, protected)
                changes.append((unit.uscc, "updated", version))
                out.append(BulkItemResult(index=index, uscc=unit.uscc, outcome="updated", version=version))
        created = await repo.insert_units(session, inserts)
        retry: list[tuple[int, UnitIn]] = []
        new_persons: dict[int, list[dict[str, Any]]] = {}
        for index, unit, protected_new in insert_items:
            if unit.uscc not in created:
                retry.append((index, unit))
                continue
            unit_id, version = created[unit.uscc]
            if protected_new:
                new_persons[unit_id] = _seal(ctx, protected_new)
            changes.append((unit.uscc, "created", version))
            out.append(BulkItemResult(index=index, uscc=unit.uscc, outcome="created", version=version))
        await repo.insert_persons_of_new_units(session, new_persons)
        await repo.update_units(session, updates)
        await repo.replace_persons_many(session, persons_by_unit)
        await repo.record_unit_changes(session, changes)
        pending = retry
    for index, unit in pending:
        out.append(
            BulkItemResult(
                index=index,
                uscc=unit.uscc,
                outcome="rejected",
                errors=[FieldError(field="uscc", reason="written concurrently by another client; retry")],
            )
        )
    return out


def batch_items(body: Any, max_items: int) -> list[Any]:
    """The `items` of a bulk request body; a body that is not `{"items": [1..max_items]}` is refused
    as a whole (422), before any item is looked at."""
    items = body.get("items") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise ProblemError(
            422,
            "invalid_input",
            "the body must be an object with an `items` array",
            errors=[FieldError(field="body.items", reason="required array")],
        )
    extra = sorted(set(body) - {"items"})
    if extra:
        raise ProblemError(
            422,
            "invalid_input",
            f"unknown field {extra[0]}",
            errors=[FieldError(field=f"body.{extra[0]}", reason="unknown field")],
        )
    if not 1 <= len(items) <= max_items:
        raise ProblemError(
            422,
            "batch_size",
            f"a batch holds 1 to {max_items} units, got {len(items)}",
            errors=[FieldError(field="body.items", reason=f"1 to {max_items} items")],
        )
    return items
