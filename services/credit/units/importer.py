"""`POST /v1/units:import`: the bulk upsert for system clients' nightly loads (sharing's registration
feed), with the same item contract and the same answers as `:bulk-upsert`, built for throughput.

Same semantics as `service.bulk_upsert` (each item created / updated / unchanged / rejected, never a
silent drop; omitted optional fields keep their stored value; persons, when given, replace the stored
ones; a USCC checksum override needs `units:override`; a USCC twice in a batch rejects the later item;
idempotent: a re-sent batch answers `unchanged` with the stored versions; change-feed entries for
every created or updated unit; one audit entry per request, by the middleware). What differs is how:

* **No model per item.** An item in the canonical form a system sends (ASCII codes already normalised,
  `YYYY-MM-DD` dates, trimmed texts, known enum values, a valid USCC) is accepted by a few direct
  checks that accept nothing the `UnitIn` model would refuse. Anything else — full-width codes, stray
  spaces, unknown fields, a USCC override or checksum failure, every invalid item — goes through the
  model itself, so what is accepted and every rejection's field and reason are exactly those of
  `:bulk-upsert`. What an item's layout of keys implies (which optional fields, which stored columns
  it replaces) is worked out once per layout, not per item.
* **Set-based SQL.** One locking read of the stored units of the batch (leaving out the stored values
  the items replace), then one statement per table: new units with their persons, updated units and
  replaced persons, each column travelling as one joined text (`repository.py`); change-feed entries
  by COPY (cheaper for PostgreSQL than any INSERT of them).
* **Answer built as plain data** and encoded by orjson, no response model per item.

The content hash is the one `service._content_hash` computes (`service.content_hash_hex`: the same
bytes), so both operations agree on what is unchanged.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from operator import itemgetter
from typing import Any, NamedTuple, TypeVar, get_args

import orjson
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.credit.common.types import EARLIEST_DATE, today_in_china
from services.credit.context import CreditContext
from services.credit.units import repository as repo
from services.credit.units.errors import duplicate_in_batch
from services.credit.units.schemas import FireClass, PersonRole, RegStatus, UnitIn, UnitType
from services.credit.units.service import content_hash_hex, uscc_error
from services.kit.auth import Principal
from services.kit.ids import citizen_id_plainly_valid, mask_citizen_id, uscc_valid
from services.kit.pii import PiiProtector

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
_REQUIRED = frozenset(("uscc", "name", "unit_type", "reg_status", "region_code"))
_PERSON_KEYS = frozenset(("role", "name", "citizen_id"))
_GIVEN_ORDER = ("uscc", "name", "unit_type", "reg_status", "region_code")  # as fast_accept builds `given`
_INDUSTRY_SECTIONS = frozenset("ABCDEFGHIJKLMNOPQRST")
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

# a unit's given columns: their bits for the locking read, and the others with where a locked row holds them
Shape = tuple[int, tuple[tuple[str, int], ...]]
# (index, uscc, given columns, persons (role, name, citizen id) or None when omitted, override reason,
# the given columns' shape)
Item = tuple[int, str, dict[str, Any], list[tuple[str, str, str]] | None, str | None, Shape]


def _text(value: Any, max_length: int) -> bool:
    return (
        type(value) is str
        and 0 < len(value) <= max_length
        and value == value.strip()
        # control characters are not printable: most texts are decided by the cheaper test
        and (value.isprintable() or _CONTROL_CHARS.search(value) is None)
    )


def _date(value: Any, today: dt.date) -> dt.date | None:
    """A `YYYY-MM-DD` date within the accepted range, else None (the model decides)."""
    day = _DATES.get(value) if type(value) is str else None
    if day is None:
        if type(value) is not str or len(value) != 10 or not value.isascii() or value[4] != "-" or value[7] != "-":
            return None
        if not (value[:4].isdigit() and value[5:7].isdigit() and value[8:].isdigit()):
            return None
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            return None
        if day < EARLIEST_DATE:
            return None
        if len(_DATES) < _DATES_KEPT:
            _DATES[value] = day
    return day if day <= today else None


# the dates read so far, by their text: a feed's dates repeat (a few tens of thousands of days), and a
# dictionary look-up costs a tenth of the checks and the parse. Only dates that passed them, after the
# earliest accepted date, are kept; whether one lies in the future is decided on each use.
_DATES: dict[str, dt.date] = {}
_DATES_KEPT = 50_000


def _code(value: Any) -> str | None:
    """An ASCII code with its whitespace removed and upper-cased: what NFKC normalisation gives for it."""
    if type(value) is not str or not value.isascii():
        return None
    return "".join(value.split()).upper()


# given columns (in the order given) -> their bits for the locking read, and the other columns with
# where a locked row holds them
_SHAPES: dict[tuple[str, ...], Shape] = {}


def _shape(given: dict[str, Any]) -> Shape:
    keys = tuple(given)
    shape = _SHAPES.get(keys)
    if shape is None:
        at = repo.STORED_VALUES.start
        bits = sum(1 << i for i, c in enumerate(repo.HASHED_COLUMNS) if c in given)
        shape = (bits, tuple((c, at + i) for i, c in enumerate(repo.HASHED_COLUMNS) if c not in given))
        if len(_SHAPES) < 4096:  # a few in practice: the fast path's and the model's orders
            _SHAPES[keys] = shape
    return shape


# what an item's keys, in the order sent, tell the direct checks: which optional fields it gives, and the
# shape (`_shape`) of its given columns, built in a fixed order; None: keys the direct checks leave to
# the model (an unknown field, an override, a required field missing). A few shapes in practice.
_OPTIONAL = ("fire_class", "reg_authority", "address", "industry_code", "reg_status_date", "established_on")


class _Plan(NamedTuple):
    fire_class: bool
    reg_authority: bool
    address: bool
    industry_code: bool
    reg_status_date: bool
    established_on: bool
    persons: bool
    shape: Shape


_PLANS: dict[tuple[str, ...], _Plan | None] = {}
_UNSEEN = _Plan(False, False, False, False, False, False, False, (0, ()))


def _plan(keys: tuple[str, ...]) -> _Plan | None:
    present = frozenset(keys)
    if not present <= _KEYS or "uscc_override" in present or not present >= _REQUIRED:
        return None
    given = [*_GIVEN_ORDER, *(k for k in _OPTIONAL if k in present)]
    return _Plan._make([*(k in present for k in _OPTIONAL), "persons" in present, _shape(dict.fromkeys(given))])


def fast_accept(
    raw: Any, today: dt.date, citizen_id_today: dt.date | None = None
) -> tuple[str, dict[str, Any], list[tuple[str, str, str]] | None, Shape] | None:
    """The item as (uscc, given columns, persons, shape of the given columns) when it is in canonical
    form and valid; None sends it to the model. Accepts nothing `UnitIn` refuses. The USCC is accepted
    only when it is valid, checksums included (then `uscc_error` has nothing to say, whatever the
    writer); a code failing a checksum goes through the model and `uscc_error`, which words the
    rejection or allows the override.

    `today` is China's date (legal dates); `citizen_id_today` the date citizen ids' birth dates are
    checked against (the model's check reads the machine's local date: pass `dt.date.today()` once for a
    batch; None reads it per id)."""
    if type(raw) is not dict:
        return None
    keys = tuple(raw)
    plan = _PLANS.get(keys, _UNSEEN)
    if plan is _UNSEEN:
        plan = _plan(keys)
        if len(_PLANS) < 4096 and _KEYS.issuperset(keys):  # only layouts of known fields are kept
            _PLANS[keys] = plan
    if plan is None:
        return None
    (
        has_fire_class,
        has_reg_authority,
        has_address,
        has_industry,
        has_status_date,
        has_established,
        has_persons,
        shape,
    ) = plan
    uscc = raw["uscc"]
    if type(uscc) is not str:
        return None
    if len(uscc) == 18 and uscc.isascii() and uscc.isalnum():
        uscc = uscc.upper()
    else:
        uscc = _code(uscc)
        if uscc is None or len(uscc) != 18 or not uscc.isalnum():
            return None
    if not uscc_valid(uscc):
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
    if has_fire_class:
        fire_class = raw["fire_class"]
        if fire_class is not None and (type(fire_class) is not str or fire_class not in _FIRE_CLASSES):
            return None
        given["fire_class"] = fire_class
    if has_reg_authority:
        text = raw["reg_authority"]
        if text is not None and not _text(text, 500):
            return None
        given["reg_authority"] = text
    if has_address:
        text = raw["address"]
        if text is not None and not _text(text, 500):
            return None
        given["address"] = text
    if has_industry:
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
    if has_status_date:
        value = raw["reg_status_date"]
        if value is not None:
            value = _date(value, today)
            if value is None:
                return None
        given["reg_status_date"] = value
    if has_established:
        value = raw["established_on"]
        if value is not None:
            value = _date(value, today)
            if value is None:
                return None
        given["established_on"] = value
    persons: list[tuple[str, str, str]] | None = None
    if has_persons and raw["persons"] is not None:
        given_persons = raw["persons"]
        if type(given_persons) is not list or len(given_persons) > 20:
            return None
        persons = []
        for p in given_persons:
            if type(p) is not dict or p.keys() != _PERSON_KEYS:
                return None
            role, person_name, citizen_id = p["role"], p["name"], p["citizen_id"]
            if type(role) is not str or role not in _ROLES or not _text(person_name, 200):
                return None
            if type(citizen_id) is not str:
                return None
            if len(citizen_id) == 18 and citizen_id.isascii() and citizen_id.isalnum():
                citizen_id = citizen_id.upper()
            else:
                citizen_id = _code(citizen_id)
                if citizen_id is None:
                    return None
            # ASCII: exactly `citizen_id_problem(citizen_id, today=…) is None`
            if not citizen_id_plainly_valid(citizen_id, citizen_id_today):
                return None
            persons.append((role, person_name, citizen_id))
    return uscc, given, persons, shape


def _rejected(index: int, uscc: str, errors: list[dict[str, str]]) -> dict[str, Any]:
    return {"index": index, "uscc": uscc, "outcome": "rejected", "version": None, "errors": errors}


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
    return (index, unit.uscc, given_columns, persons, override, _shape(given_columns)), None


async def import_units(
    ctx: CreditContext, session: AsyncSession, raw_items: list[Any], principal: Principal
) -> dict[str, Any]:
    """The whole answer: counts, one result per item in input order, as_of."""
    today = today_in_china()
    citizen_id_today = dt.date.today()  # what the model's citizen id check compares birth dates with
    results: list[dict[str, Any] | None] = [None] * len(raw_items)
    valid: list[Item] = []
    first_index: dict[str, int] = {}
    for index, raw in enumerate(raw_items):
        accepted = fast_accept(raw, today, citizen_id_today)
        if accepted is not None:  # its USCC is valid: `uscc_error` would find nothing
            uscc, given, persons, shape = accepted
            item: Item = (index, uscc, given, persons, None, shape)
        else:
            modelled, rejection = _by_model(index, raw)
            if modelled is None:
                results[index] = rejection
                continue
            item = modelled
            uscc = item[1]
            error = uscc_error(uscc, item[4] is not None, principal)
            if error is not None:
                results[index] = _rejected(index, uscc, [{"field": error.field, "reason": error.reason}])
                continue
        first = first_index.setdefault(uscc, index)
        if first != index:
            duplicate = duplicate_in_batch(first)
            results[index] = _rejected(index, uscc, [{"field": duplicate.field, "reason": duplicate.reason}])
        else:
            valid.append(item)
    for answer in await _apply(ctx, session, valid, principal):
        results[answer["index"]] = answer
    counts = {"created": 0, "updated": 0, "unchanged": 0, "rejected": 0}
    for r in results:
        assert r is not None, "every item is answered"
        counts[r["outcome"]] += 1
    return {"counts": counts, "results": results, "as_of": ctx.now()}


# no errors, encoded `[]` like an empty list: an answer holding only atomic values stays out of the
# garbage collector's lists (5,000 answers of a batch live until it is answered)
_NONE: tuple[()] = ()

# a new unit's values before the given ones: every column NULL, in the content hash's key order
_NEW_UNIT = dict.fromkeys(repo.HASHED_COLUMNS)


def _merged(
    given: dict[str, Any], override: str | None, old: Any, omitted: tuple[tuple[str, int], ...]
) -> dict[str, Any]:
    """As `service._merged`: omitted columns keep their stored value; a new unit is `general`. Exactly
    `repo.HASHED_COLUMNS`, in that order (given columns are a subset of them). `omitted`: `_shape`'s."""
    values = {**_NEW_UNIT, **given}
    if old is not None:
        for column, at in omitted:
            values[column] = old[at]
    if override is not None:
        values["uscc_override_reason"] = override
    if values["fire_class"] is None:
        values["fire_class"] = "general"
    return values


# (role, name, match hash hex, citizen id)
Protected = tuple[str, str, str, str]


def _protected(
    persons: list[tuple[str, str, str]], match_hash: Callable[[str], bytes]
) -> tuple[list[Protected], list[tuple[str, str, str]]]:
    """The persons with their match hashes, the first of each (role, id) only (as `service._protect`),
    and the content hash's persons key: (role, name, hash) sorted."""
    if len(persons) == 1:
        role, name, citizen_id = persons[0]
        h = match_hash(citizen_id).hex()
        return [(role, name, h, citizen_id)], [(role, name, h)]
    out = []
    seen: set[tuple[str, str]] = set()
    for role, name, citizen_id in persons:
        h = match_hash(citizen_id).hex()
        if (role, h) not in seen:
            seen.add((role, h))
            out.append((role, name, h, citizen_id))
    return out, sorted([(role, name, h) for role, name, h, _ in out])


K = TypeVar("K", str, int)


def _sealed(pii: PiiProtector, persons: list[tuple[K, str, str, str, str]]) -> list[tuple[K, str, str, str, str, str]]:
    """(key, role, name, hash, citizen id) -> (key, role, name, hash, ciphertext hex, masked id)."""
    ciphers = pii.encrypt_many([p[4] for p in persons])
    return [
        (key, role, name, h, cipher.hex(), mask_citizen_id(citizen_id))
        for (key, role, name, h, citizen_id), cipher in zip(persons, ciphers, strict=True)
    ]


async def _apply(
    ctx: CreditContext, session: AsyncSession, items: list[Item], principal: Principal
) -> list[dict[str, Any]]:
    """Lock what exists, insert the rest, update what changed; a unit created concurrently between the
    read and the insert is retried once as an update (as `service._apply`)."""
    match_hash = ctx.pii.match_hash
    writer = principal.client_id
    out: list[dict[str, Any]] = []
    pending = items
    for _attempt in range(2):
        if not pending:
            break
        existing = await repo.lock_for_import(session, [item[1] for item in pending], [item[5][0] for item in pending])
        new_rows: list[tuple[Any, ...]] = []  # HASHED_COLUMNS values and the content hash
        new_items: list[Item] = []
        new_persons: list[tuple[str, str, str, str, str]] = []  # (uscc, role, name, hash, citizen id)
        updates: list[tuple[Any, ...]] = []  # (id, HASHED_COLUMNS values, content hash, version)
        replaced: list[int] = []  # updated units whose persons are replaced
        updated_persons: list[tuple[int, str, str, str, str]] = []  # (unit id, role, name, hash, citizen id)
        changes: list[tuple[str, str, int]] = []
        for item in pending:
            index, uscc, given, persons, override, (_, omitted) = item
            old = existing.get(uscc)
            values = _merged(given, override, old, omitted)
            protected: list[Protected] | None = None
            persons_key: list[Any]
            if persons is not None:
                protected, persons_key = _protected(persons, match_hash)
            elif old is not None and old[repo.LOCKED_PERSONS] is not None:
                # [role, name, hash] arrays: encoded and ordered as the tuples `service` uses
                persons_key = sorted(orjson.loads(old[repo.LOCKED_PERSONS]))
            else:
                persons_key = []
            digest = content_hash_hex(values, persons_key)
            if old is None:
                new_rows.append((*values.values(), digest))
                new_items.append(item)
                if protected:
                    new_persons += [(uscc, role, name, h, citizen_id) for role, name, h, citizen_id in protected]
            elif old[repo.LOCKED_HASH] == digest:
                version = old[repo.LOCKED_VERSION]
                out.append({"index": index, "uscc": uscc, "outcome": "unchanged", "version": version, "errors": _NONE})
            else:
                unit_id, version = old[repo.LOCKED_ID], old[repo.LOCKED_VERSION] + 1
                updates.append((unit_id, *values.values(), digest, version))
                if protected is not None:
                    replaced.append(unit_id)
                    updated_persons += [(unit_id, role, name, h, cid) for role, name, h, cid in protected]
                changes.append((uscc, "updated", version))
                out.append({"index": index, "uscc": uscc, "outcome": "updated", "version": version, "errors": _NONE})
        # in USCC order, like the locking read: two batches inserting the same new units wait on each
        # other in one order and cannot deadlock
        new_rows.sort(key=itemgetter(repo.USCC_AT))
        created = await repo.import_new_units(session, new_rows, _sealed(ctx.pii, new_persons), writer)
        retry: list[Item] = []
        for item in new_items:
            index, uscc = item[0], item[1]
            if uscc not in created:
                retry.append(item)
                continue
            changes.append((uscc, "created", 1))
            out.append({"index": index, "uscc": uscc, "outcome": "created", "version": 1, "errors": _NONE})
        await repo.update_units_set(session, updates, writer)
        await repo.replace_persons_set(session, replaced, _sealed(ctx.pii, updated_persons))
        await repo.record_unit_changes(session, changes)
        pending = retry
    for index, uscc, *_ in pending:
        out.append(
            _rejected(index, uscc, [{"field": "uscc", "reason": "written concurrently by another client; retry"}])
        )
    return out
