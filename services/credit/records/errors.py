from __future__ import annotations

import uuid

from services.kit.errors import FieldError, ProblemError


def record_not_found(record_id: uuid.UUID) -> ProblemError:
    return ProblemError(
        404,
        "record_not_found",
        f"no record {record_id}",
        errors=[FieldError(field="path.record_id", reason="unknown record")],
    )


def unit_unknown(uscc: str) -> ProblemError:
    return ProblemError(
        422,
        "unit_unknown",
        f"no unit with USCC {uscc} is registered; register it first",
        errors=[FieldError(field="body.unit_uscc", reason="unknown USCC")],
    )


def document_no_taken(document_no: str, existing: uuid.UUID | None) -> ProblemError:
    return ProblemError(
        409,
        "document_no_taken",
        f"your department already has a different record under document number {document_no}",
        errors=[FieldError(field="body.document_no", reason="already used for another record")],
        existing=f"/v1/records/{existing}" if existing else None,
    )


def not_own_record(record_id: uuid.UUID) -> ProblemError:
    return ProblemError(
        403,
        "not_own_record",
        "a department changes only its own records",
        errors=[FieldError(field="path.record_id", reason="record of another department")],
    )


def version_mismatch(record_id: uuid.UUID, current: int) -> ProblemError:
    return ProblemError(
        412,
        "version_mismatch",
        f"record {record_id} is at version {current}; re-read it",
        errors=[FieldError(field="header.If-Match", reason=f'current ETag is "{current}"')],
        headers={"ETag": f'"{current}"'},
    )


def withdrawn(record_id: uuid.UUID) -> ProblemError:
    return ProblemError(
        409,
        "record_withdrawn",
        f"record {record_id} is withdrawn and cannot change",
        existing=f"/v1/records/{record_id}",
    )


def immutable_identity() -> ProblemError:
    return ProblemError(
        422,
        "immutable_field",
        "a correction cannot change the record type or the unit",
        errors=[FieldError(field="body.record.type", reason="type and unit_uscc are fixed")],
    )
