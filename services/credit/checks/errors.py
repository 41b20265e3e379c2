from __future__ import annotations

import uuid

from services.kit.errors import FieldError, ProblemError


def unknown_scenario(scenario: str, known: list[str]) -> ProblemError:
    reason = f"unknown scenario {scenario!r}; known: {', '.join(known)}"
    return ProblemError(422, "unknown_scenario", reason, errors=[FieldError(field="body.scenario", reason=reason)])


def other_department(field: str = "body.department") -> ProblemError:
    reason = "a department checks only in its own name"
    return ProblemError(403, "department_mismatch", reason, errors=[FieldError(field=field, reason=reason)])


def check_not_found(check_id: uuid.UUID) -> ProblemError:
    return ProblemError(404, "check_not_found", f"no credit check {check_id}")


def not_own_check(check_id: uuid.UUID) -> ProblemError:
    return ProblemError(403, "not_own_check", f"check {check_id} was made by another department")


def feedback_exists(check_id: uuid.UUID) -> ProblemError:
    return ProblemError(
        409,
        "feedback_exists",
        f"feedback for check {check_id} was already given",
        existing=f"/v1/credit-checks/{check_id}/feedback",
    )


def unknown_measure(index: int, measure_id: str) -> ProblemError:
    reason = f"measure {measure_id} was not returned by this check"
    return ProblemError(
        422,
        "unknown_measure",
        reason,
        errors=[FieldError(field=f"body.measures.{index}.measure_id", reason=reason)],
    )


def reason_required(index: int) -> ProblemError:
    reason = "say why a measure was not applied"
    return ProblemError(
        422,
        "reason_required",
        reason,
        errors=[FieldError(field=f"body.measures.{index}.reason", reason=reason)],
    )


def bad_batch(count: int, limit: int) -> ProblemError:
    reason = f"a batch holds at most {limit} USCCs, got {count}"
    return ProblemError(
        413 if count > limit else 422,
        "batch_too_large",
        reason,
        errors=[FieldError(field="body.usccs", reason=reason)],
    )


def decided_in_future() -> ProblemError:
    reason = "the decision date lies in the future (China Standard Time)"
    return ProblemError(422, "date_in_future", reason, errors=[FieldError(field="body.decided_on", reason=reason)])
