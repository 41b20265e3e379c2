"""Opaque cursors: base64 of a keyset position, so clients cannot depend on their content."""

from __future__ import annotations

import base64

from services.kit.errors import field_problem


def encode_cursor(position: int) -> str:
    return base64.urlsafe_b64encode(f"k:{position}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = text.partition(":")
        if kind != "k":
            raise ValueError(text)
        return int(value)
    except (ValueError, UnicodeDecodeError) as exc:
        raise field_problem(400, "invalid_cursor", "query.cursor", "not a cursor this service issued") from exc
