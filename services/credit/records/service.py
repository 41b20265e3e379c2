"""Record rules: append-only versions, natural key per department, withdrawal as a state, the
publication window from the policy, responsible persons linked to the unit's persons."""

from __future__ import annotations

import base64
import uuid
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from services.credit.changes.repository import append_changes
from services.credit.common.idempotency import request_fingerprint
from services.credit.context import CreditContext
from services.credit.grades.hooks import after_record_change
from services.credit.records import errors
from services.credit.records import repository as repo
from services.credit.records.publication import status, window
from services.credit.records.schemas import (
    CorrectionIn,
    PersonRefOut,
    PublicationOut,
    RecordIn,
    RecordOut,
    RecordVersionOut,
    WithdrawalIn,
)
from services.kit.auth import Principal
from services.kit.ids import new_uuid7

_record_adapter: TypeAdapter[RecordIn] = TypeAdapter(RecordIn)


def fingerprint(record: RecordIn) -> str:
    return request_fingerprint(record.model_dump(mode="json"))


def _body(record: RecordIn) -> dict[str, Any]:
    """What is stored of the submitted record: everything but clear id numbers."""
    return record.model_dump(mode="json", exclude={"responsible_persons", "unit_uscc"})


def _protected_persons(ctx: CreditContext, record: RecordIn) -> list[dict[str, Any]]:
    seen, out = set(), []
    for p in record.responsible_persons:
        h = ctx.pii.match_hash(p.citizen_id)
        if (p.role, h) not in seen:
            seen.add((p.role, h))
            out.append(
                {
                    "role": p.role,
                    "name": p.name,
                    "id_hash": h,
                    "id_cipher": ctx.pii.encrypt(p.citizen_id),
                    "id_masked": ctx.pii.mask(p.citizen_id),
                }
            )
    return out


def _columns(ctx: CreditContext, record: RecordIn) -> dict[str, Any]:
    w = window(record, ctx.policy)
    return {
        "severity": record.severity,
        "polarity": w.polarity,
        "legal_basis": record.legal_basis,
        "decision_date": record.decision_date,
        "conduct_ended_on": record.conduct_ended_on or record.decision_date,
        "published": w.published,
        "publish_min_until": w.min_until,
        "publish_until": w.until,
        "query_until": w.query_until,
        "policy_version": ctx.policy.version,
        "body": _body(record),
        "document_no": record.document_no,
    }


def to_out(ctx: CreditContext, row: Row[Any], principal: Principal) -> RecordOut:
    show_pii = principal.has("pii:read")
    persons = [
        PersonRefOut(
            role=p["role"],
            name=p["name"],
            citizen_id_masked=not show_pii,
            citizen_id=ctx.pii.decrypt(base64.b64decode(p["cipher"])) if show_pii else p["masked"],
        )
        for p in sorted(row.persons, key=lambda p: (p["role"], p["masked"]))
    ]
    return RecordOut(
        id=row.id,
        type=row.record_type,
        unit_uscc=row.uscc,
        department=row.department,
        document_no=row.document_no,
        decision_date=row.decision_date,
        conduct_ended_on=row.conduct_ended_on,
        severity=row.severity,
        polarity=row.polarity,
        legal_basis=row.legal_basis,
        details=row.body.get("details", {}),
        responsible_persons=persons,
        status=status(state=row.state, published=row.published, until=row.publish_until, today=ctx.today()),
        disputed=row.disputed,
        withdrawal=row.body.get("withdrawal"),
        publication=PublicationOut(
            published=row.published,
            publish_from=row.decision_date,
            min_until=row.publish_min_until,
            until=row.publish_until,
            query_until=row.query_until,
            policy_version=row.policy_version,
        ),
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
        as_of=row.as_of,
    )


_NO_PII = Principal(client_id="", department="", scopes=frozenset())


async def _snapshot(
    ctx: CreditContext, session: AsyncSession, record_id: uuid.UUID
) -> tuple[RecordOut, dict[str, Any]]:
    """The record as stored in history and the feed: always with masked id numbers."""
    row = await repo.get(session, record_id)
    assert row is not None
    masked = to_out(ctx, row, _NO_PII)
    return masked, masked.model_dump(mode="json", exclude={"as_of", "status"})


async def _record_version(
    ctx: CreditContext,
    session: AsyncSession,
    record_id: uuid.UUID,
    version: int,
    kind: str,
    reason: str | None,
    unit_id: int,
    principal: Principal,
) -> None:
    """Every change of a record: its history version, its feed entry and its unit's grade, in the
    writer's transaction."""
    masked, snapshot = await _snapshot(ctx, session, record_id)
    await repo.add_version(
        session,
        {
            "record_id": record_id,
            "version": version,
            "change_kind": kind,
            "reason": reason,
            "snapshot": snapshot,
            "changed_by": principal.client_id,
        },
    )
    await _feed(session, masked, kind)
    await after_record_change(session, [unit_id], today=ctx.today(), actor=principal.client_id)


async def _feed(session: AsyncSession, out: RecordOut, operation: str) -> None:
    await append_changes(
        session,
        [
            {
                "entity": "record",
                "entity_id": str(out.id),
                "uscc": out.unit_uscc,
                "operation": operation,
                "version": out.version,
                "data": {
                    "type": out.type,
                    "department": out.department,
                    "severity": out.severity,
                    "state": "withdrawn" if out.status == "withdrawn" else "active",
                    "published": out.publication.published,
                },
            }
        ],
    )


async def get_record(
    ctx: CreditContext, session: AsyncSession, record_id: uuid.UUID, principal: Principal
) -> RecordOut:
    row = await repo.get(session, record_id)
    if row is None:
        raise errors.record_not_found(record_id)
    return to_out(ctx, row, principal)


async def create_record(
    ctx: CreditContext, session: AsyncSession, record: RecordIn, principal: Principal
) -> tuple[RecordOut, bool]:
    """Returns (record, created). The same record sent again under its natural key returns the
    original; a different record under a used document number is a conflict naming it."""
    unit_id = await repo.unit_id_of(session, record.unit_uscc)
    if unit_id is None:
        raise errors.unit_unknown(record.unit_uscc)
    digest = fingerprint(record)
    if record.document_no:
        existing = await repo.by_natural_key(session, principal.department, record.document_no)
        if existing is not None:
            if existing.request_hash == digest:
                return await get_record(ctx, session, existing.id, principal), False
            raise errors.document_no_taken(record.document_no, existing.id)
    record_id = new_uuid7()
    values = {
        "id": record_id,
        "unit_id": unit_id,
        "uscc": record.unit_uscc,
        "department": principal.department,
        "record_type": record.type,
        "version": 1,
        "state": "active",
        "created_by": principal.client_id,
        "request_hash": digest,
        **_columns(ctx, record),
    }
    if not await repo.insert_record(session, values):
        existing = await repo.by_natural_key(session, principal.department, record.document_no or "")
        raise errors.document_no_taken(record.document_no or "", existing.id if existing else None)
    await repo.link_persons(session, record_id, unit_id, _protected_persons(ctx, record))
    await _record_version(ctx, session, record_id, 1, "created", None, unit_id, principal)
    return await get_record(ctx, session, record_id, principal), True


async def _locked_own(session: AsyncSession, record_id: uuid.UUID, principal: Principal, if_match: int) -> Row[Any]:
    row = await repo.get(session, record_id, lock=True)
    if row is None:
        raise errors.record_not_found(record_id)
    if row.department != principal.department:
        raise errors.not_own_record(record_id)
    if row.version != if_match:
        raise errors.version_mismatch(record_id, row.version)
    return row


async def correct_record(
    ctx: CreditContext,
    session: AsyncSession,
    record_id: uuid.UUID,
    correction: CorrectionIn,
    if_match: int,
    principal: Principal,
) -> RecordOut:
    row = await _locked_own(session, record_id, principal, if_match)
    new = correction.record
    if row.state == "withdrawn":
        raise errors.withdrawn(record_id)
    if new.type != row.record_type or new.unit_uscc != row.uscc:
        raise errors.immutable_identity()
    if new.document_no != row.document_no and new.document_no:
        clash = await repo.by_natural_key(session, principal.department, new.document_no)
        if clash is not None and clash.id != record_id:
            raise errors.document_no_taken(new.document_no, clash.id)
    version = row.version + 1
    await repo.update_record(
        session, record_id, {**_columns(ctx, new), "version": version, "request_hash": fingerprint(new)}
    )
    await repo.link_persons(session, record_id, row.unit_id, _protected_persons(ctx, new))
    await _record_version(ctx, session, record_id, version, "corrected", correction.reason, row.unit_id, principal)
    return await get_record(ctx, session, record_id, principal)


async def withdraw_record(
    ctx: CreditContext,
    session: AsyncSession,
    record_id: uuid.UUID,
    withdrawal: WithdrawalIn,
    if_match: int,
    principal: Principal,
) -> RecordOut:
    row = await _locked_own(session, record_id, principal, if_match)
    if row.state == "withdrawn":
        raise errors.withdrawn(record_id)
    version = row.version + 1
    body = {**row.body, "withdrawal": withdrawal.model_dump(mode="json")}
    await repo.update_record(session, record_id, {"state": "withdrawn", "version": version, "body": body})
    await _record_version(ctx, session, record_id, version, "withdrawn", withdrawal.reason, row.unit_id, principal)
    return await get_record(ctx, session, record_id, principal)


async def history(ctx: CreditContext, session: AsyncSession, record_id: uuid.UUID) -> list[RecordVersionOut]:
    rows = await repo.history(session, record_id)
    if not rows:
        raise errors.record_not_found(record_id)
    return [
        RecordVersionOut(
            version=r.version,
            change_kind=r.change_kind,
            reason=r.reason,
            changed_by=r.changed_by,
            changed_at=r.changed_at,
            record=r.snapshot,
        )
        for r in rows
    ]
