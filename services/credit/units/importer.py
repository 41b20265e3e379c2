"""`POST /v1/units:import`: the bulk upsert for system clients' nightly loads (sharing's registration
feed), with the same item contract and the same answers as `:bulk-upsert`, built for throughput.

Same semantics as `service.bulk_upsert` (each item created / updated / unchanged / rejected, never a
silent drop; omitted optional fields keep their stored value; persons, when given, replace the stored
ones; a USCC checksum override needs `units:override`; a USCC twice in a batch rejects the later item;
idempotent: a re-sent batch answers `unchanged` with the stored versions; change-feed entries for
every created or updated unit; one audit entry per request, by the middleware). What differs is how:

* **No model per item.** An item in the canonical form a system sends (ASCII codes already normalised,
  `YYYY-MM-DD` dates, trimmed texts, known enum values) is accepted by a few direct checks that accept
  nothing the `UnitIn` model would refuse. Anything else — full-width codes, stray spaces, unknown
  fields, a USCC override, every invalid item — goes through the model itself, so what is accepted
  and every rejection's field and reason are exactly those of `:bulk-upsert`.
* **Set-based SQL.** One locking read of the stored units of the batch, then one statement per table
  (units inserted and updated through `unnest` of binary arrays, persons and change-feed entries by
  COPY) — six round trips for a batch whatever its size (`repository.py`).
* **Answer built as plain data** and encoded by orjson, no response model per item.

The content hash is the one `service._content_hash` computes, so both operations agree on what is
unchanged.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, get_args

import orjson
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.credit.common.types import EARLIEST_DATE, today_in_china
from services.credit.context import CreditContext
from services.credit.units import repository as repo
from services.credit.units.errors import duplicate_in_batch
from services.credit.units.schemas import FireClass, PersonRole, RegStatus, UnitIn, UnitType
from services.credit.units.service import _content_hash, uscc_error
from services.kit.auth import Principal
from services.kit.ids import citizen_id_problem

IMPORT_MAX_ITEMS = 20_000

# the request body in the contract: `BulkUpsertIn` with a larger batch
IMPORT_BODY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "UnitImportIn",
    "additionalProperties": False,
    "required": ["items"],
    "properties": {
        "items": {
            "type": "array",
            "minItems": 1,
            "maxItems": IMPORT_MAX_ITEMS,
            "items": {"$ref": "#/components/schemas/UnitIn"},
        }
    },
}

_unit_adapter: TypeAdapter[UnitIn] = TypeAdapter(UnitIn)

_UNIT_TYPES = frozenset(get_args(UnitType))
_FIRE_CLASSES = frozenset(get_args(FireClass))
_REG_STATUSES = frozenset(get_args(RegStatus))
_ROLES = frozenset(get_args(PersonRole))
_KEYS = frozenset(UnitIn.model_fields)
_REQUIRED = ("uscc", "name", "unit_type", "reg_status", "region_code")
_PERSON_KEYS = frozenset(("role", "name", "citizen_id"))
_INDUSTRY_SECTIONS = frozenset("ABCDEFGHIJKLMNOPQRST")
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

# (index, uscc, given columns, persons (role, name, citizen id) or None when omitted, override reason)
Item = tuple[int, str, dict[str, Any], list[tuple[str, str, str]] | None, str | None]


def _text(value: Any, max_length: int) -> bool:
    return (
        type(value) is str
        and 0 < len(value) <= max_length
        and value == value.strip()
        and _CONTROL_CHARS.search(value) is None
    )


def _date(value: Any, today: dt.date) -> dt.date | None:
    """A `YYYY-MM-DD` date within the accepted range, else None (the model decides)."""
    if type(value) is not str or len(value) != 10 or not value.isascii() or value[4] != "-" or value[7] != "-":
        return None
    if not (value[:4].isdigit() and value[5:7].isdigit() and value[8:].isdigit()):
        return None
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        return None
    return day if EARLIEST_DATE <= day <= today else None


def _code(value: Any) -> str | None:
    """An ASCII code with its whitespace removed and upper-cased: what NFKC normalisation gives for it."""
    if type(value) is not str or not value.isascii():
        return None
    return "".join(value.split()).upper()


def fast_accept(raw: Any, today: dt.date) -> tuple[str, dict[str, Any], list[tuple[str, str, str]] | None] | None:
    """The item as (uscc, given columns, persons) when it is in canonical form and valid; None sends it
    to the model. Accepts nothing `UnitIn` refuses; the USCC checksum is checked later, as for the model."""
    if type(raw) is not dict or not raw.keys() <= _KEYS or "uscc_override" in raw:
        return None
    for key in _REQUIRED:
        if key not in raw:
            return None
    uscc = _code(raw["uscc"])
    if uscc is None or len(uscc) != 18 or not uscc.isalnum():
        return None
    name = raw["name"]
    if not _text(name, 200):
        return None
    unit_type, reg_status, region = raw["unit_type"], raw["reg_status"], raw["region_code"]
    if type(unit_type) is not str or unit_type not in _UNIT_TYPES:
        return None
    if type(reg_status) is not str or reg_status not in _REG_STATUSES:
        return None
    if type(region) is not str or len(region) != 6 or not region.isascii() or not region.isdigit():
        return None
    given: dict[str, Any] = {
        "uscc": uscc,
        "name": name,
        "unit_type": unit_type,
        "reg_status": reg_status,
        "region_code": region,
    }
    if "fire_class" in raw:
        fire_class = raw["fire_class"]
        if fire_class is not None and (type(fire_class) is not str or fire_class not in _FIRE_CLASSES):
            return None
        given["fire_class"] = fire_class
    for key in ("reg_authority", "address"):
        if key in raw:
            text = raw[key]
            if text is not None and not _text(text, 500):
                return None
            given[key] = text
    if "industry_code" in raw:
        code = raw["industry_code"]
        if code is not None and (
            type(code) is not str
            or not code.isascii()
            or len(code) not in (1, 3, 4, 5)
            or code[0] not in _INDUSTRY_SECTIONS
            or (len(code) > 1 and not code[1:].isdigit())
        ):
            return None
        given["industry_code"] = code
    for key in ("reg_status_date", "established_on"):
        if key in raw:
            value = raw[key]
            if value is None:
                given[key] = None
            else:
                day = _date(value, today)
                if day is None:
                    return None
                given[key] = day
    persons: list[tuple[str, str, str]] | None = None
    if "persons" in raw and raw["persons"] is not None:
        given_persons = raw["persons"]
        if type(given_persons) is not list or len(given_persons) > 20:
            return None
        persons = []
        for p in given_persons:
            if type(p) is not dict or p.keys() != _PERSON_KEYS:
                return None
            role, person_name = p["role"], p["name"]
            if type(role) is not str or role not in _ROLES or not _text(person_name, 200):
                return None
            citizen_id = _code(p["citizen_id"])
            if citizen_id is None or citizen_id_problem(citizen_id) is not None:
                return None
            persons.append((role, person_name, citizen_id))
    return uscc, given, persons


def _rejected(index: int, uscc: str, errors: list[dict[str, str]]) -> dict[str, Any]:
    return {"index": index, "uscc": uscc, "outcome": "rejected", "version": None, "errors": errors}


def _answer(index: int, uscc: str, outcome: str, version: int) -> dict[str, Any]:
    return {"index": index, "uscc": uscc, "outcome": outcome, "version": version, "errors": []}


def _by_model(index: int, raw: Any) -> tuple[Item | None, dict[str, Any] | None]:
    try:
        unit = _unit_adapter.validate_python(raw)
    except ValidationError as exc:
        given = raw.get("uscc") if isinstance(raw, dict) else None
        uscc = given if isinstance(given, str) else ""
        errors = [{"field": ".".join(str(p) for p in e["loc"]) or "item", "reason": e["msg"]} for e in exc.errors()]
        return None, _rejected(index, uscc[:18], errors)
    persons: list[tuple[str, str, str]] | None = None
    if unit.persons is not None:
        persons = [(str(p.role), p.name, p.citizen_id) for p in unit.persons]
    override = unit.uscc_override.reason if unit.uscc_override is not None else None
    given_columns = unit.model_dump(exclude={"persons", "uscc_override"}, exclude_unset=True)
    return (index, unit.uscc, given_columns, persons, override), None


async def import_units(
    ctx: CreditContext, session: AsyncSession, raw_items: list[Any], principal: Principal
) -> dict[str, Any]:
    """The whole answer: counts, one result per item in input order, as_of."""
    today = today_in_china()
    results: list[dict[str, Any] | None] = [None] * len(raw_items)
    valid: list[Item] = []
    first_index: dict[str, int] = {}
    for index, raw in enumerate(raw_items):
        accepted = fast_accept(raw, today)
        item: Item | None
        if accepted is not None:
            item = (index, accepted[0], accepted[1], accepted[2], None)
        else:
            item, rejection = _by_model(index, raw)
            if item is None:
                results[index] = rejection
                continue
        uscc = item[1]
        error = uscc_error(uscc, item[4] is not None, principal)
        if error is not None:
            results[index] = _rejected(index, uscc, [{"field": error.field, "reason": error.reason}])
        elif uscc in first_index:
            duplicate = duplicate_in_batch(first_index[uscc])
            results[index] = _rejected(index, uscc, [{"field": duplicate.field, "reason": duplicate.reason}])
        else:
            first_index[uscc] = index
            valid.append(item)
    for answer in await _apply(ctx, session, valid, principal):
        results[answer["index"]] = answer
    ordered = [r for r in results if r is not None]
    assert len(ordered) == len(raw_items), "every item is answered"
    counts = {"created": 0, "updated": 0, "unchanged": 0, "rejected": 0}
    for r in ordered:
        counts[r["outcome"]] += 1
    return {"counts": counts, "results": ordered, "as_of": ctx.now()}


def _merged(given: dict[str, Any], override: str | None, old: Any) -> dict[str, Any]:
    """As `service._merged`: omitted columns keep their stored value; a new unit is `general`."""
    if old is None:
        values = {c: given.get(c) for c in repo.UNIT_COLUMNS}
        values["uscc_override_reason"] = override
    else:
        values = {c: given[c] if c in given else old[c] for c in repo.UNIT_COLUMNS}
        values["uscc_override_reason"] = override if override is not None else old["uscc_override_reason"]
    if values["fire_class"] is None:
        values["fire_class"] = "general"
    return values


async def _apply(
    ctx: CreditContext, session: AsyncSession, items: list[Item], principal: Principal
) -> list[dict[str, Any]]:
    """Lock what exists, insert the rest, update what changed; a unit created concurrently between the
    read and the insert is retried once as an update (as `service._apply`)."""
    pii = ctx.pii
    writer = principal.client_id
    out: list[dict[str, Any]] = []
    pending = items
    for _attempt in range(2):
        if not pending:
            break
        existing = await repo.lock_for_import(session, [item[1] for item in pending])
        inserts: list[dict[str, Any]] = []
        insert_items: list[tuple[int, str, list[dict[str, Any]]]] = []
        updates: list[dict[str, Any]] = []
        persons_by_unit: dict[int, list[dict[str, Any]]] = {}
        changes: list[tuple[str, str, int]] = []
        retry_of: dict[str, Item] = {}
        for item in pending:
            index, uscc, given, persons, override = item
            old = existing.get(uscc)
            values = _merged(given, override, old)
            protected: list[dict[str, Any]] | None = None
            if persons is not None:
                protected = []
                seen: set[tuple[str, bytes]] = set()
                for role, name, citizen_id in persons:
                    h = pii.match_hash(citizen_id)
                    if (role, h) not in seen:
                        seen.add((role, h))
                        protected.append({"role": role, "name": name, "id_hash": h, "citizen_id": citizen_id})
                persons_key = sorted((p["role"], p["name"], p["id_hash"].hex()) for p in protected)
            elif old is not None and old["persons"] is not None:
                persons_key = sorted((r, n, h) for r, n, h in orjson.loads(old["persons"]))
            else:
                persons_key = []
            digest = _content_hash(values, persons_key)
            if old is None:
                values["content_hash"] = digest
                values["updated_by"] = writer
                values["version"] = 1
                inserts.append(values)
                insert_items.append((index, uscc, protected or []))
                retry_of[uscc] = item
            elif old["content_hash"] == digest:
                out.append(_answer(index, uscc, "unchanged", old["version"]))
            else:
                version = old["version"] + 1
                values["content_hash"] = digest
                values["updated_by"] = writer
                values["version"] = version
                values["b_id"] = old["id"]
                updates.append(values)
                if protected is not None:
                    persons_by_unit[old["id"]] = _sealed(ctx, protected)
                changes.append((uscc, "updated", version))
                out.append(_answer(index, uscc, "updated", version))
        # in USCC order, like the locking read: two batches inserting the same new units wait on each
        # other in one order and cannot deadlock
        inserts.sort(key=lambda v: str(v["uscc"]))
        created = await repo.insert_units(session, inserts)
        retry: list[Item] = []
        new_persons: dict[int, list[dict[str, Any]]] = {}
        for index, uscc, protected_new in insert_items:
            if uscc not in created:
                retry.append(retry_of[uscc])
                continue
            unit_id, version = created[uscc]
            if protected_new:
                new_persons[unit_id] = _sealed(ctx, protected_new)
            changes.append((uscc, "created", version))
            out.append(_answer(index, uscc, "created", version))
        await repo.insert_persons_of_new_units(session, new_persons)
        await repo.update_units_set(session, updates)
        await repo.replace_persons_set(session, persons_by_unit)
        await repo.record_unit_changes(session, changes)
        pending = retry
    for index, uscc, *_ in pending:
        out.append(
            _rejected(index, uscc, [{"field": "uscc", "reason": "written concurrently by another client; retry"}])
        )
    return out


def _sealed(ctx: CreditContext, persons: list[dict[str, Any]]) -> list[dict[str, Any]]:
    pii = ctx.pii
    return [
        {
            "role": p["role"],
            "name": p["name"],
            "id_hash": p["id_hash"],
            "id_cipher": pii.encrypt(p["citizen_id"]),
            "id_masked": pii.mask(p["citizen_id"]),
        }
        for p in persons
    ]
