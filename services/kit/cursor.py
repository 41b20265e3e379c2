"""Opaque pagination cursors: versioned, URL-safe, and refused with a clear 422 when tampered."""

from __future__ import annotations

import base64
import binascii

from services.kit.errors import FieldError, ProblemError


def encode(kind: str, *parts: int) -> str:
    raw = ":".join([kind, "1", *(str(p) for p in parts)])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(kind: str, cursor: str, arity: int, *, field: str = "query.cursor") -> tuple[int, ...]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        head, version, *parts = raw.split(":")
        if head != kind or version != "1" or len(parts) != arity:
            raise ValueError
        values = tuple(int(p) for p in parts)
        if any(v < 0 or v >= 2**128 for v in values):
            raise ValueError
        return values
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise invalid(field) from exc


def invalid(field: str = "query.cursor") -> ProblemError:
    return ProblemError(
        422,
        "invalid_cursor",
        "the cursor was not issued by this service",
        errors=[FieldError(field=field, reason="not a cursor of this list")],
    )
