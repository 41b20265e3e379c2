from __future__ import annotations

from services.kit.errors import FieldError, ProblemError


def unit_not_found(uscc: str) -> ProblemError:
    return ProblemError(
        404,
        "unit_not_found",
        f"no unit with USCC {uscc} is registered",
        errors=[FieldError(field="path.uscc", reason="unknown USCC")],
    )


def unit_exists(uscc: str) -> ProblemError:
    return ProblemError(
        409,
        "unit_exists",
        f"a unit with USCC {uscc} already exists; update it instead",
        errors=[FieldError(field="body.uscc", reason="already registered")],
        existing=f"/v1/units/{uscc}",
    )


def uscc_invalid(error: FieldError) -> ProblemError:
    return ProblemError(
        422, "invalid_uscc", error.reason, errors=[FieldError(field=f"body.{error.field}", reason=error.reason)]
    )


def version_mismatch(uscc: str, current: int) -> ProblemError:
    return ProblemError(
        412,
        "version_mismatch",
        f"unit {uscc} is at version {current}; re-read it and retry",
        errors=[FieldError(field="header.If-Match", reason=f'current ETag is "{current}"')],
        headers={"ETag": f'"{current}"'},
    )


def duplicate_in_batch(first: int) -> FieldError:
    return FieldError(field="uscc", reason=f"the same USCC already appears at index {first} of this batch")
