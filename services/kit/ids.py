"""Chinese identifiers: unified social credit codes (GB 32100-2015) and citizen ids (GB 11643-1999).

Both are normalised before validation (trim, NFKC full-width to half-width, upper-case), because
clerks and feeds send full-width digits, lower-case letters and stray spaces.
"""

from __future__ import annotations

import datetime as dt
import operator
import os
import time
import unicodedata
import uuid
from dataclasses import dataclass

USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE = {c: i for i, c in enumerate(USCC_CHARSET)}
_USCC_WEIGHTS = [pow(3, i, 31) for i in range(17)]
_ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2]
_CITIZEN_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
_CITIZEN_CHECK = "10X98765432"
_USCC_CHARS = frozenset(USCC_CHARSET)
_DIGIT = {str(i): i for i in range(10)}
_ORG_VALUE = {c: int(c, 36) for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"}


def normalise_code(raw: str) -> str:
    """Trim, fold full-width forms to ASCII and upper-case; inner whitespace is removed too."""
    folded = unicodedata.normalize("NFKC", raw)
    return "".join(folded.split()).upper()


@dataclass(frozen=True, slots=True)
class CodeProblem:
    """Why a code is not valid; `checksum_only` problems may be overridden by an authorised client."""

    reason: str
    checksum_only: bool = False


def _org_code_check(body: str) -> str:
    """GB 11714 check character for the 8-character organisation code body."""
    # map/operator rather than a generator: these checks run for every row of a nightly feed
    total = sum(map(operator.mul, map(_ORG_VALUE.__getitem__, body), _ORG_WEIGHTS))
    value = 11 - total % 11
    return {10: "X", 11: "0"}.get(value, str(value))


def uscc_check_char(first17: str) -> str:
    total = sum(map(operator.mul, map(_USCC_VALUE.__getitem__, first17), _USCC_WEIGHTS))
    return USCC_CHARSET[(31 - total % 31) % 31]


# The checks below run for every unit and person of a nightly feed, so the common case — a valid code —
# is decided by `uscc_valid` / `citizen_id_plainly_valid` in a few C-level string operations, and only a code
# that fails them goes through the step-by-step checks that name its problem. Each fast check is true
# exactly when the step-by-step one finds no problem (tests/kit/test_ids.py compares them on random
# valid and mutated codes). The weighted sums are evaluated as numbers in a suitable base, because each
# standard's weights are the powers of a number modulo its check modulus:
# * USCC, GB 32100: weight 3^i mod 31 for position i (from 0, left to right). Reversed, the 17 values
#   are the digits of a base-34 number, and 34 ≡ 3 (mod 31): that number ≡ Σ v_i·3^i (mod 31).
# * organisation code, GB 11714: weights 3 7 9 10 5 8 4 2 = 3·6^i mod 11. Each value reduced mod 11
#   (a digit below 17), the reversed 8 form a base-17 number, 17 ≡ 6 (mod 11): 3× it ≡ the sum.
# * citizen id, GB 11643: weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2 = 2^(17-i) mod 11 (i from 0). The
#   17 digits read in base 13 (13 ≡ 2 mod 11) give Σ d_i·2^(16-i); twice that is the sum (mod 11).
_BASE34_DIGITS = "0123456789abcdefghijklmnopqrstu"  # the USCC characters' values, in charset order
_USCC_BYTES = USCC_CHARSET.encode("ascii")
_USCC_TO_BASE34 = bytes.maketrans(_USCC_BYTES, _BASE34_DIGITS.encode("ascii"))
_USCC_TO_ORG_BASE17 = bytes.maketrans(
    _USCC_BYTES, "".join("0123456789a"[_ORG_VALUE[c] % 11] for c in USCC_CHARSET).encode("ascii")
)
# the GB 11714 check character for a weighted sum ≡ t (mod 11)
_ORG_CHECK_FOR = tuple({10: "X", 11: "0"}.get(11 - t, str(11 - t)) for t in range(11))
_EARLIEST_BIRTH_YEAR = 1880


def uscc_valid(code: str) -> bool:
    """True exactly when `uscc_problem(code)` is None, decided in one pass for the common valid code."""
    if len(code) != 18 or not code.isascii():
        return False
    raw = code.encode("ascii")
    if raw.translate(None, _USCC_BYTES) or not raw[2:8].isdigit():  # a character outside the charset
        return False
    return (
        USCC_CHARSET[-int(raw[16::-1].translate(_USCC_TO_BASE34), 34) % 31] == code[17]
        and _ORG_CHECK_FOR[3 * int(raw[15:7:-1].translate(_USCC_TO_ORG_BASE17), 17) % 11] == code[16]
    )


def uscc_problem(code: str) -> CodeProblem | None:
    """Validate an already normalised USCC; None when valid."""
    if uscc_valid(code):
        return None
    if len(code) != 18:
        return CodeProblem(f"must be 18 characters, got {len(code)}")
    if not _USCC_CHARS.issuperset(code):
        bad = sorted({c for c in code if c not in _USCC_VALUE})
        return CodeProblem(f"characters not allowed in a USCC: {''.join(bad)}")
    if not code[2:8].isdigit():
        return CodeProblem("positions 3-8 must be the 6-digit administrative region code")
    if uscc_check_char(code[:17]) != code[17]:
        return CodeProblem("check character (position 18) does not match", checksum_only=True)
    if _org_code_check(code[8:16]) != code[16]:
        return CodeProblem("organisation code check (position 17, GB 11714) does not match", checksum_only=True)
    return None


def citizen_id_plainly_valid(code: str, today: dt.date | None = None) -> bool:
    """For an ASCII code: True exactly when `citizen_id_problem(code, today=today)` is None. A code with
    other characters answers False and is left to the step-by-step checks (which read other scripts'
    decimal digits as their values)."""
    if len(code) != 18 or not code.isascii() or not code[:17].isdigit():
        return False
    last = code[17]
    if not ("0" <= last <= "9" or last == "X"):
        return False
    try:
        born = dt.date.fromisoformat(code[6:14])  # YYYYMMDD, as dt.date(int, int, int) reads it
    except ValueError:
        return False
    if born.year < _EARLIEST_BIRTH_YEAR or born > (today or dt.date.today()):
        return False
    return _CITIZEN_CHECK[2 * int(code[:17], 13) % 11] == last


def citizen_id_problem(code: str, *, today: dt.date | None = None) -> CodeProblem | None:
    """Validate an already normalised 18-character citizen id; None when valid."""
    if citizen_id_plainly_valid(code, today):
        return None
    if len(code) != 18:
        return CodeProblem(f"must be 18 characters, got {len(code)}")
    # decimal digits of any script count as their values; other "digits" (superscripts, Ethiopic
    # numerals) are not digits of a number and int() refuses them
    if not code[:17].isdecimal() or not (code[17].isdecimal() or code[17] == "X"):
        return CodeProblem("must be 17 digits followed by a digit or X")
    try:
        born = dt.date(int(code[6:10]), int(code[10:12]), int(code[12:14]))
    except ValueError:
        return CodeProblem("birth date (positions 7-14) is not a calendar date")
    if born > (today or dt.date.today()) or born.year < _EARLIEST_BIRTH_YEAR:
        return CodeProblem("birth date (positions 7-14) is out of range")
    digits = code[:17]
    if digits.isascii():
        total = sum(map(operator.mul, map(_DIGIT.__getitem__, digits), _CITIZEN_WEIGHTS))
    else:  # other scripts' decimal digits (isdecimal above) count as their values
        total = sum(int(c) * w for c, w in zip(digits, _CITIZEN_WEIGHTS, strict=True))
    if _CITIZEN_CHECK[total % 11] != code[17]:
        return CodeProblem("check character (position 18) does not match", checksum_only=True)
    return None


def mask_citizen_id(code: str) -> str:
    """`222401199001011234` -> `222401********1234`: region kept for officers, birth date hidden."""
    if len(code) != 18:
        return "*" * len(code)
    return code[:6] + "*" * 8 + code[14:]


def make_uscc(authority: str, entity: str, region: str, org_body: str) -> str:
    """Assemble a valid USCC from its parts (used by demo data and the feed simulator)."""
    first16 = authority + entity + region + org_body
    first17 = first16 + _org_code_check(org_body)
    return first17 + uscc_check_char(first17)


def make_citizen_id(region: str, born: dt.date, serial: int) -> str:
    first17 = f"{region}{born:%Y%m%d}{serial:03d}"
    total = sum(int(c) * w for c, w in zip(first17, _CITIZEN_WEIGHTS, strict=True))
    return first17 + _CITIZEN_CHECK[total % 11]


def new_uuid7() -> uuid.UUID:
    """Time-ordered UUID (RFC 9562 v7): keeps B-tree inserts local and ids sortable by creation."""
    return new_uuid7s(1)[0]


def new_uuid7s(count: int) -> list[uuid.UUID]:
    """`count` time-ordered UUIDs from one read of the OS's random source (a batch of checks)."""
    ms = (time.time_ns() // 1_000_000) & ((1 << 48) - 1)
    random = os.urandom(10 * count)
    ids = []
    for i in range(count):
        value = ms << 80 | int.from_bytes(random[10 * i : 10 * i + 10], "big")
        value = (value & ~(0xF << 76)) | (0x7 << 76)
        value = (value & ~(0x3 << 62)) | (0x2 << 62)
        ids.append(uuid.UUID(int=value))
    return ids


_REQUEST_ID_RANDOM: list[bytes] = []


def new_request_id() -> str:
    """32 hex characters from the OS's random source, read 4 KiB at a time: every request needs
    one, and one system call per request showed in the profile."""
    if not _REQUEST_ID_RANDOM:
        block = os.urandom(4096)
        _REQUEST_ID_RANDOM.extend(block[i : i + 16] for i in range(0, 4096, 16))
    return _REQUEST_ID_RANDOM.pop().hex()
