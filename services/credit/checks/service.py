"""Credit check rules: compose the answer from one read of the unit's facts, store it immutably.

The answer says what the officer may rely on: identity and registration status, grade with its
explanation, serious-list status, the records the caller may see, and the measures of the scenario
for that grade. An unknown USCC is answered as unknown, never as a clean record.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

from services.credit.calendar import service as calendar_service
from services.credit.calendar.workdays import Deadline, WorkCalendar
from services.credit.checks import errors
from services.credit.checks import repository as repo
from services.credit.common.pool import ReadPool
from services.credit.grades.model import GRADE_LABELS, ListingFact, RecordFact, evaluate
from services.credit.measures.catalogue import Catalogue
from services.credit.policy.checks_model import ChecksPolicy
from services.kit.auth import Principal
from services.kit.groupcommit import GroupWriter
from services.kit.ids import new_uuid7, new_uuid7s

INTERNAL_SCOPE = "checks:internal"
REG_STATUS_LABELS = {
    "operating": "存续",
    "licence_revoked": "吊销",
    "deregistered": "注销",
    "moved_out": "迁出",
    "cancelled": "撤销",
}
GONE = frozenset({"licence_revoked", "deregistered", "moved_out", "cancelled"})
_CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


@dataclass(frozen=True, slots=True)
class CheckRequest:
    uscc: str
    scenario: str
    case_ref: str
    purpose: str
    officer: str
    department: str
    client_id: str
    internal: bool


def request_of(body: Any, principal: Principal, catalogue: Catalogue) -> CheckRequest:
    if body.scenario not in catalogue.scenarios:
        raise errors.unknown_scenario(body.scenario, sorted(catalogue.scenarios))
    if body.department is not None and body.department != principal.department:
        raise errors.other_department()
    return CheckRequest(
        uscc=getattr(body, "uscc", ""),
        scenario=body.scenario,
        case_ref=body.case_ref,
        purpose=body.purpose,
        officer=body.officer,
        department=principal.department,
        client_id=principal.client_id,
        internal=principal.has(INTERNAL_SCOPE),
    )


def _codes(count: int) -> list[str]:
    """Verification codes: 10 characters from a 32-letter alphabet without 0/O/1/I, 50 bits each
    from the OS's CSPRNG (one read for a whole batch)."""
    random = secrets.token_bytes(7 * count)
    codes = []
    for i in range(count):
        n = int.from_bytes(random[7 * i : 7 * i + 7], "big")
        raw = "".join(_CODE_ALPHABET[(n >> (5 * k)) & 31] for k in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes


# (catalogue kept in the value so its id cannot be reused while cached, the measures as answered)
_MEASURES_CACHE: dict[tuple[int, str, str], tuple[Catalogue, list[dict[str, Any]]]] = {}


def _measures(catalogue: Catalogue, scenario: str, grade: str) -> list[dict[str, Any]]:
    """The published measures of a scenario for a grade, as answered (shared by every answer: they
    are only serialised, never changed)."""
    key = (id(catalogue), scenario, grade)
    hit = _MEASURES_CACHE.get(key)
    if hit is None:
        if len(_MEASURES_CACHE) > 256:
            _MEASURES_CACHE.clear()
        hit = _MEASURES_CACHE[key] = (catalogue, [m.public() for m in catalogue.lookup(scenario, grade)])
    return hit[1]


def _d(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


# (calendar object kept in the value so its id cannot be reused while cached, deadline)
_DUE_CACHE: dict[tuple[int, dt.date, int], tuple[WorkCalendar, Deadline]] = {}


def _due(calendar: WorkCalendar, today: dt.date, days: int) -> Deadline:
    """The feedback deadline, once per calendar and day (every check of a day has the same one)."""
    key = (id(calendar), today, days)
    hit = _DUE_CACHE.get(key)
    if hit is None:
        if len(_DUE_CACHE) > 64:
            _DUE_CACHE.clear()
        hit = _DUE_CACHE[key] = (calendar, calendar.add_working_days(today, days))
    return hit[1]


def _record_view(r: list[Any], today: dt.date, internal: bool) -> dict[str, Any] | None:
    (
        rid,
        rtype,
        doc,
        dept,
        severity,
        polarity,
        decided,
        until,
        query_until,
        published,
        state,
        disputed,
        basis,
        _kind,
    ) = r
    until_d, query_d = _d(until), _d(query_until)
    if state == "withdrawn":
        status = "withdrawn"
    elif not published:
        status = "internal_only"
    elif until_d is not None and today >= until_d:
        status = "publication_ended"
    else:
        status = "public"
    if status == "public":
        visibility = "public"
    elif internal and (query_d is None or today < query_d or polarity == "positive"):
        visibility = "internal"
    else:
        return None
    return {
        "id": rid,
        "type": rtype,
        "document_no": doc,
        "department": dept,
        "severity": severity,
        "polarity": polarity,
        "decision_date": decided,
        "publish_until": until,
        "legal_basis": basis,
        "status": status,
        "visibility": visibility,
        "disputed": bool(disputed),
    }


def _facts(records: list[list[Any]]) -> list[RecordFact]:
    return [
        RecordFact(
            id=r[0],
            record_type=r[1],
            severity=r[4],
            polarity=r[5],
            decision_date=dt.date.fromisoformat(r[6]),
            publish_until=_d(r[7]),
            state=r[10],
            disputed=bool(r[11]),
            document_no=r[2],
            kind=r[13],
        )
        for r in records
    ]


def compose(
    req: CheckRequest,
    row: asyncpg.Record | None,
    *,
    uscc: str,
    today: dt.date,
    as_of: dt.datetime,
    policy: ChecksPolicy,
    catalogue: Catalogue,
    calendar: WorkCalendar,
    grounds: dict[str, tuple[str, str]],
    check_id: uuid.UUID,
    code: str,
    batch_id: uuid.UUID | None = None,
) -> tuple[bytes, tuple[Any, ...]]:
    """The answer (JSON bytes, exactly as stored) and the row that stores it."""
    due = _due(calendar, today, policy.checks.feedback_working_days)
    notices: list[str] = []
    unit = grade = serious = None
    records_out: list[dict[str, Any]] = []
    measures: list[dict[str, Any]] = []
    hit = False
    grade_letter: str | None = None
    unit_id: int | None = None
    if row is None:
        result = "unknown"
        notices.append("unknown_unit: no unit is registered under this USCC; this is not a clean record")
    else:
        result = "found"
        unit_id = row["id"]
        gone = row["reg_status"] in GONE
        unit = {
            "uscc": row["uscc"],
            "name": row["name"],
            "unit_type": row["unit_type"],
            "fire_class": row["fire_class"],
            "reg_status": row["reg_status"],
            "reg_status_label": REG_STATUS_LABELS.get(row["reg_status"]),
            "reg_status_date": row["reg_status_date"],
            "region_code": row["region_code"],
            "deregistered": gone,
        }
        if gone:
            notices.append(
                f"unit_not_operating: registration status is {row['reg_status']} "
                f"({REG_STATUS_LABELS.get(row['reg_status'], '?')})"
            )
        records = orjson.loads(row["records"]) if row["records"] else []
        listings = orjson.loads(row["listings"]) if row["listings"] else []
        entries = []
        unit_listings: list[ListingFact] = []
        for lid, kind, prole, pname, ground, state, listed_on, list_until in listings:
            label, basis = grounds.get(ground, (None, None))
            entries.append(
                {
                    "id": lid,
                    "subject_kind": kind,
                    "person_role": prole,
                    "person_name": pname,
                    "ground": ground,
                    "ground_label": label,
                    "basis": basis,
                    "state": state,
                    "listed_on": listed_on,
                    "list_until": list_until,
                }
            )
            if kind == "unit" and state == "listed" and list_until and today < dt.date.fromisoformat(list_until):
                unit_listings.append(
                    ListingFact(lid, ground, dt.date.fromisoformat(listed_on), dt.date.fromisoformat(list_until))
                )
        listed = bool(unit_listings)
        persons_listed = any(e["subject_kind"] == "person" and e["state"] == "listed" for e in entries)
        serious = {
            "listed": listed,
            "persons_listed": persons_listed,
            "pending": any(e["state"] != "listed" for e in entries),
            "entries": entries,
        }
        fresh = (
            row["grade"] is not None
            and not row["stale"]
            and (row["next_change_on"] is None or row["next_change_on"] > today)
        )
        if fresh:
            grade = orjson.loads(row["explanation"])
        else:
            grade = evaluate(_facts(records), policy, today, unit_listings).explanation()
        grade_letter = grade["grade"]
        records_out = [v for r in records if (v := _record_view(r, today, req.internal)) is not None]
        records_out.sort(key=lambda v: (v["decision_date"], v["id"]), reverse=True)
        if any(v["disputed"] for v in records_out):
            notices.append("disputed_records: some records are under objection; they are flagged")
        hit = grade_letter in ("C", "D") or listed
        measures = _measures(catalogue, req.scenario, grade_letter)
    answer = {
        "id": str(check_id),
        "verification_code": code,
        "created_at": as_of,
        "as_of": as_of,
        "uscc": uscc,
        "scenario": req.scenario,
        "case_ref": req.case_ref,
        "purpose": req.purpose,
        "department": req.department,
        "officer": req.officer,
        "result": result,
        "notices": notices,
        "unit": unit,
        "grade": grade and {**grade, "label": GRADE_LABELS.get(grade["grade"], grade.get("label"))},
        "serious_list": serious,
        "records": records_out,
        "measures": measures,
        "hit": hit,
        "feedback_due": due.due,
        "feedback_due_provisional": due.provisional,
        "policy_version": policy.version,
        "catalogue_version": catalogue.version,
    }
    if batch_id is not None:
        answer["batch_id"] = str(batch_id)
    raw = orjson.dumps(answer, option=orjson.OPT_SORT_KEYS)
    answer_hash = hashlib.sha256(raw).hexdigest()
    values = (
        check_id,
        code,
        batch_id,
        uscc,
        unit_id,
        req.scenario,
        req.case_ref,
        req.purpose,
        req.department,
        req.officer,
        req.client_id,
        result,
        grade_letter,
        hit,
        today,
        due.due,
        raw.decode(),
        answer_hash,
        policy.version,
        as_of,
    )
    return raw, values


async def calendar_for(conn: asyncpg.Connection) -> WorkCalendar:
    return calendar_service.cached() or calendar_service.remember(
        calendar_service.from_rows(await repo.loaded_years(conn))
    )


def ground_labels(policy: ChecksPolicy) -> dict[str, tuple[str, str]]:
    return {g.code: (g.label, g.basis) for g in policy.listing.grounds}


async def check_one(
    conn: asyncpg.Connection,
    req: CheckRequest,
    *,
    today: dt.date,
    policy: ChecksPolicy,
    catalogue: Catalogue,
    writer: GroupWriter[tuple[Any, ...]] | None = None,
) -> tuple[uuid.UUID, bytes]:
    """One check, stored before it is answered: with `writer`, together with the checks of other
    requests of the same moment (group commit), else on `conn`."""
    row = await repo.unit_facts(conn, req.uscc)
    cal = await calendar_for(conn)
    raw, values = compose(
        req,
        row,
        uscc=req.uscc,
        today=today,
        as_of=dt.datetime.now(dt.UTC),
        policy=policy,
        catalogue=catalogue,
        calendar=cal,
        grounds=ground_labels(policy),
        check_id=new_uuid7(),
        code=_codes(1)[0],
    )
    if writer is not None:
        await writer.record(values)
    else:
        await repo.insert_check(conn, values)
    return values[0], raw


# USCCs per read: a batch is read in chunks, several at once on the read pool's connections, so that
# PostgreSQL reads the next chunks while this process composes the answers of the first
READ_CHUNK = 1000
PARALLEL_READS = 3
# answers composed between two turns of the event loop (reads and writes in flight move on meanwhile)
YIELD_EVERY = 200


async def check_many(
    conn: asyncpg.Connection,
    req: CheckRequest,
    usccs: Sequence[str],
    *,
    today: dt.date,
    policy: ChecksPolicy,
    catalogue: Catalogue,
    readers: ReadPool | None = None,
) -> tuple[uuid.UUID, list[bytes], int]:
    """Duplicates are answered once, in order of first appearance. Returns (batch id, answers,
    duplicates). The batch is stored in one transaction on `conn`, chunk by chunk as its answers are
    composed; with `readers`, the chunks are read on their connections meanwhile (else on `conn`,
    one after the other)."""
    ordered = list(dict.fromkeys(usccs))
    chunks = [ordered[i : i + READ_CHUNK] for i in range(0, len(ordered), READ_CHUNK)]
    cal = await calendar_for(conn)
    batch_id = new_uuid7()
    as_of = dt.datetime.now(dt.UTC)
    grounds = ground_labels(policy)
    check_ids, codes = new_uuid7s(len(ordered)), _codes(len(ordered))
    answers: list[bytes] = []
    parallel = readers is not None and len(chunks) > 1
    if parallel:
        assert readers is not None
        gate = asyncio.Semaphore(PARALLEL_READS)

        async def read(chunk: list[str]) -> list[asyncpg.Record]:
            async with gate, readers.acquire() as reader:
                return await repo.units_facts(reader, chunk)

        reads = [asyncio.ensure_future(read(chunk)) for chunk in chunks]
    try:
        writing: asyncio.Future[None] | None = None
        async with conn.transaction():
            try:
                for k, chunk in enumerate(chunks):
                    found = await reads[k] if parallel else await repo.units_facts(conn, chunk)
                    rows = {r["uscc"]: r for r in found}
                    values: list[tuple[Any, ...]] = []
                    for i, uscc in enumerate(chunk, start=len(answers)):
                        raw, v = compose(
                            req,
                            rows.get(uscc),
                            uscc=uscc,
                            today=today,
                            as_of=as_of,
                            policy=policy,
                            catalogue=catalogue,
                            calendar=cal,
                            grounds=grounds,
                            check_id=check_ids[i],
                            code=codes[i],
                            batch_id=batch_id,
                        )
                        answers.append(raw)
                        values.append(v)
                        if parallel and len(values) % YIELD_EVERY == 0:
                            await asyncio.sleep(0)
                    if writing is not None:
                        await writing
                    if parallel:
                        # the copy of this chunk goes on while the next one is composed
                        writing = asyncio.ensure_future(repo.insert_checks(conn, values))
                    else:
                        await repo.insert_checks(conn, values)
                if writing is not None:
                    await writing
            except BaseException:
                # the transaction rolls back once the copy in flight has finished with the connection
                if writing is not None:
                    with contextlib.suppress(BaseException):
                        await writing
                raise
    finally:
        if parallel:
            for pending in reads:
                pending.cancel()
    return batch_id, answers, len(usccs) - len(ordered)


def can_read(principal: Principal, department: str) -> bool:
    return principal.department == department or principal.has("admin")
