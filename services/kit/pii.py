"""Protected personal id numbers: a keyed hash to match, authenticated encryption to show, a mask
for everyone without the PII scope. SM3 is the default hash (brief §4: SM3 by default)."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hmac import HMAC

from services.kit.ids import mask_citizen_id

# an 18-character citizen id inside free text (a case reference, a log line) is masked before it
# is stored or written anywhere
_CITIZEN_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[\dXx])(?![0-9A-Za-z])")


def mask_free_text(value: str) -> str:
    return _CITIZEN_ID_IN_TEXT.sub(lambda m: m.group(1) + "********" + m.group(2), value)


def sm3_hmac(key: bytes, data: bytes) -> bytes:
    mac = HMAC(key, hashes.SM3())
    mac.update(data)
    return mac.finalize()


@dataclass(frozen=True)
class PiiProtector:
    match_key: bytes
    encryption_key: bytes
    # one cipher object for the life of the protector: building one per call costs as much as the
    # encryption itself on the bulk paths (thousands of persons per request)
    _aead: AESGCM = field(init=False, repr=False, compare=False)
    # the match key's HMAC state, keyed once: each match hash copies it (a third of the cost of keying
    # a new HMAC per id; the same bytes as `sm3_hmac(match_key, id)`)
    _keyed_match: HMAC = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_aead", AESGCM(self.encryption_key))
        object.__setattr__(self, "_keyed_match", HMAC(self.match_key, hashes.SM3()))

    def __reduce__(self) -> tuple[type[PiiProtector], tuple[bytes, bytes]]:
        # pickled to sharing's validation workers: the keys travel, the cipher object is rebuilt
        return (PiiProtector, (self.match_key, self.encryption_key))

    @classmethod
    def from_secret(cls, secret: str) -> PiiProtector:
        root = secret.encode("utf-8")
        return cls(
            match_key=sm3_hmac(root, b"fire-credit/pii/match"),
            encryption_key=hashlib.sha256(root + b"fire-credit/pii/encrypt").digest(),
        )

    def match_hash(self, citizen_id: str) -> bytes:
        mac = self._keyed_match.copy()
        mac.update(citizen_id.encode("ascii"))
        return mac.finalize()

    def encrypt(self, citizen_id: str) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, citizen_id.encode("ascii"), b"citizen_id")

    def encrypt_many(self, citizen_ids: list[str]) -> list[bytes]:
        """`encrypt` of each id, the random nonces read from the OS in one call (bulk writes)."""
        nonces = os.urandom(12 * len(citizen_ids))
        seal = self._aead.encrypt
        out = []
        for i, citizen_id in enumerate(citizen_ids):
            nonce = nonces[12 * i : 12 * i + 12]
            out.append(nonce + seal(nonce, citizen_id.encode("ascii"), b"citizen_id"))
        return out

    def decrypt(self, blob: bytes) -> str:
        return self._aead.decrypt(blob[:12], blob[12:], b"citizen_id").decode("ascii")

    @staticmethod
    def mask(citizen_id: str) -> str:
        return mask_citizen_id(citizen_id)

    def same(self, a: bytes, b: bytes) -> bool:
        return hmac.compare_digest(a, b)
