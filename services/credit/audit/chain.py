"""Hashes of the audit trail: SM3 by default (GM/T 0004), SHA-256 selectable. Entries are hashed
without a key; the chain is a keyed MAC, so rewriting it needs the audit key, not just database
access."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import orjson
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.hmac import HMAC

from services.kit.pii import mask_free_text

Algorithm = Literal["sm3", "sha256"]
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"sm3": hashes.SM3, "sha256": hashes.SHA256}
GENESIS = b"fire-credit/audit/genesis"

ENTRY_FIELDS = (
    "at",
    "client_id",
    "department",
    "user_id",
    "case_id",
    "purpose",
    "operation",
    "method",
    "path",
    "status",
    "subject_uscc",
    "request_id",
    "result_digest",
)


def digest(algorithm: str, data: bytes) -> bytes:
    h = hashes.Hash(_HASHES[algorithm]())
    h.update(data)
    return h.finalize()


def mac(algorithm: str, key: bytes, data: bytes) -> bytes:
    m = HMAC(key, _HASHES[algorithm]())
    m.update(data)
    return m.finalize()


def clip_and_mask(value: str | None, limit: int = 200) -> str | None:
    if value is None:
        return None
    return mask_free_text(value[:limit])


def canonical(entry: dict[str, Any]) -> bytes:
    values = []
    for name in ENTRY_FIELDS:
        value = entry.get(name)
        if isinstance(value, dt.datetime):
            value = value.astimezone(dt.UTC).isoformat(timespec="microseconds")
        values.append(value)
    return orjson.dumps(values)


def entry_hash(algorithm: str, entry: dict[str, Any]) -> bytes:
    return digest(algorithm, canonical(entry))


def next_link(algorithm: str, key: bytes, previous: bytes, row_hash: bytes) -> bytes:
    return mac(algorithm, key, previous + row_hash)
