from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable

from hypothesis import given
from hypothesis import strategies as st

from services.kit.ids import (
    USCC_CHARSET,
    CodeProblem,
    citizen_id_plainly_valid,
    citizen_id_problem,
    make_citizen_id,
    make_uscc,
    mask_citizen_id,
    normalise_code,
    uscc_problem,
    uscc_valid,
)

# the example code used in GB 32100 explanations
KNOWN_GOOD_USCC = ["91350100M000100Y43"]


def test_known_codes_validate() -> None:
    problems = {code: uscc_problem(code) for code in KNOWN_GOOD_USCC}
    assert all(p is None for p in problems.values()), problems


def test_normalisation_of_full_width_and_case() -> None:
    assert normalise_code(" ９１３５０１００ｍ０００１００ｙ４３ ") == "91350100M000100Y43"


@given(st.text(alphabet=USCC_CHARSET, min_size=8, max_size=8), st.sampled_from(["222401", "222426", "220100"]))
def test_generated_codes_validate_and_any_single_change_is_caught(body: str, region: str) -> None:
    code = make_uscc("9", "1", region, body)
    assert uscc_problem(code) is None
    for position in (0, 9, 17):
        swapped = USCC_CHARSET[(USCC_CHARSET.index(code[position]) + 1) % 31]
        broken = code[:position] + swapped + code[position + 1 :]
        assert uscc_problem(broken) is not None


def test_uscc_shape_errors_are_not_overridable() -> None:
    wrong_chars = uscc_problem("91350100M000100I43")
    assert wrong_chars is not None
    assert not wrong_chars.checksum_only
    short = uscc_problem("9135")
    assert short is not None
    assert not short.checksum_only
    checksum = uscc_problem("91350100M000100Y44")
    assert checksum is not None
    assert checksum.checksum_only


def test_citizen_ids() -> None:
    good = make_citizen_id("222401", dt.date(1975, 3, 9), 41)
    assert citizen_id_problem(good) is None
    assert citizen_id_problem("11010519491231002X") is None  # the standard's own example
    bad_check = good[:17] + ("0" if good[17] != "0" else "1")
    assert citizen_id_problem(bad_check) is not None
    assert citizen_id_problem("222401197502300011") is not None  # 30 February
    assert citizen_id_problem("2224011975030904") is not None
    assert mask_citizen_id("11010519491231002X") == "110105********002X"


def test_log_lines_and_free_text_never_carry_clear_citizen_ids() -> None:
    import logging

    from services.kit.logs import JsonFormatter
    from services.kit.pii import mask_free_text

    person = make_citizen_id("222401", dt.date(1975, 3, 9), 41)
    record = logging.LogRecord("credit", logging.INFO, __file__, 1, "lookup for %s failed", (person,), None)
    record.case = f"case of {person}"
    line = JsonFormatter().format(record)
    assert person not in line
    assert mask_citizen_id(person) in line
    assert mask_free_text(f"x{person}") == f"x{person}"  # part of a longer token: not an id, left alone


# ------------------------------------------------------------------ the fast checks against the reference
# `uscc_problem` / `citizen_id_problem` decide a valid code in one pass (`uscc_valid`, the citizen id's
# plain check for ASCII codes)
# and name a problem step by step. The reference below is the step-by-step code as it was before the fast
# pass: both must give the same answer (problem, reason, overridable) for every code.


def _reference_uscc_problem(code: str) -> CodeProblem | None:
    if len(code) != 18:
        return CodeProblem(f"must be 18 characters, got {len(code)}")
    if not frozenset(USCC_CHARSET).issuperset(code):
        bad = sorted({c for c in code if c not in USCC_CHARSET})
        return CodeProblem(f"characters not allowed in a USCC: {''.join(bad)}")
    if not code[2:8].isdigit():
        return CodeProblem("positions 3-8 must be the 6-digit administrative region code")
    total = sum(USCC_CHARSET.index(c) * pow(3, i, 31) for i, c in enumerate(code[:17]))
    if USCC_CHARSET[(31 - total % 31) % 31] != code[17]:
        return CodeProblem("check character (position 18) does not match", checksum_only=True)
    org = sum(int(c, 36) * w for c, w in zip(code[8:16], [3, 7, 9, 10, 5, 8, 4, 2], strict=True))
    value = 11 - org % 11
    if {10: "X", 11: "0"}.get(value, str(value)) != code[16]:
        return CodeProblem("organisation code check (position 17, GB 11714) does not match", checksum_only=True)
    return None


def _reference_citizen_id_problem(code: str, today: dt.date) -> CodeProblem | None:
    if len(code) != 18:
        return CodeProblem(f"must be 18 characters, got {len(code)}")
    if not code[:17].isdecimal() or not (code[17].isdecimal() or code[17] == "X"):
        return CodeProblem("must be 17 digits followed by a digit or X")
    try:
        born = dt.date(int(code[6:10]), int(code[10:12]), int(code[12:14]))
    except ValueError:
        return CodeProblem("birth date (positions 7-14) is not a calendar date")
    if born > today or born.year < 1880:
        return CodeProblem("birth date (positions 7-14) is out of range")
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(c) * w for c, w in zip(code[:17], weights, strict=True))
    if "10X98765432"[total % 11] != code[17]:
        return CodeProblem("check character (position 18) does not match", checksum_only=True)
    return None


def _answer(check: Callable[[], CodeProblem | None]) -> object:
    """A check's answer, or the error it raises (none should: see
    `test_digits_that_are_not_decimal_are_a_problem_not_an_error`)."""
    try:
        return check()
    except ValueError as exc:
        return ("raises", str(exc))


def _mutations(rng: random.Random, code: str, alphabet: str) -> list[str]:
    """A code's variants: one or two characters changed, swapped neighbours, cut, extended, spaced,
    lower-cased, full-width or other-script characters put in."""
    out = []
    for _ in range(2):
        i = rng.randrange(len(code))
        out.append(code[:i] + rng.choice(alphabet) + code[i + 1 :])
    i, j = rng.sample(range(len(code)), 2)
    out.append(code[:i] + rng.choice(alphabet) + code[i + 1 : j] + rng.choice(alphabet) + code[j + 1 :])
    i = rng.randrange(len(code) - 1)
    out.append(code[:i] + code[i + 1] + code[i] + code[i + 2 :])
    out.append(code[: rng.randrange(len(code))])
    out.append(code + rng.choice(alphabet))
    out.append(code[:-1] + rng.choice(" \t_+-IOSVZioxX\u3000\uff11\u0661\u00b2\u2460"))
    i = rng.randrange(len(code))
    out.append(code[:i] + rng.choice(" _+-\uff10\u0665\u0967\u00b9\u1369\U0001d7d8ioszv") + code[i + 1 :])
    out.append(code.lower())
    out.append(code[:8] + "".join(rng.choice(alphabet) for _ in range(len(code) - 8)))
    return out


def test_fast_uscc_check_answers_as_the_reference() -> None:
    """≥200,000 codes: valid ones (random bodies, real region codes), their mutations and random strings."""
    rng = random.Random(32100)
    extra = "IOSVZ" + "abcdefghijklmnopqrstuvwxyz"
    checked = valid = 0
    for _ in range(20_000):
        region = rng.choice(
            [
                "222401",
                "222402",
                "222403",
                "222404",
                "222405",
                "222406",
                "222424",
                "222426",
                f"{rng.randrange(10**6):06d}",
            ]
        )
        body = "".join(rng.choice(USCC_CHARSET) for _ in range(8))
        code = make_uscc(rng.choice(USCC_CHARSET), rng.choice(USCC_CHARSET), region, body)
        candidates = [code, *_mutations(rng, code, USCC_CHARSET + extra)]
        candidates.append("".join(rng.choice(USCC_CHARSET) for _ in range(18)))
        for candidate in candidates:
            expected = _reference_uscc_problem(candidate)
            assert uscc_problem(candidate) == expected, candidate
            assert uscc_valid(candidate) is (expected is None), candidate
            checked += 1
            valid += expected is None
    assert checked >= 200_000
    assert valid >= 20_000


def test_digits_that_are_not_decimal_are_a_problem_not_an_error() -> None:
    """Superscripts and Ethiopic numerals are `isdigit()` but no number's digits: a feed row or an item
    carrying one is answered with a problem (it used to raise ValueError from int())."""
    good = make_citizen_id("222401", dt.date(1975, 3, 9), 41)
    for odd in ("\u1369", "\u00b2", "\u2460"):
        for i in (0, 5, 8, 15, 17):
            code = good[:i] + odd + good[i + 1 :]
            problem = citizen_id_problem(code)
            assert problem is not None, code
            assert problem.reason == "must be 17 digits followed by a digit or X"
    # decimal digits of other scripts still count as their values
    arabic_indic = good[:16].translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")) + good[16:]
    assert citizen_id_problem(arabic_indic) is None


def test_fast_citizen_id_check_answers_as_the_reference() -> None:
    """≥200,000 ids: valid ones born 1880 to today, their mutations, impossible and future birth dates."""
    rng = random.Random(11643)
    today = dt.date.today()
    span = (today - dt.date(1880, 1, 1)).days
    checked = valid = 0
    for _ in range(20_000):
        born = dt.date(1880, 1, 1) + dt.timedelta(days=rng.randrange(span + 1))
        code = make_citizen_id(f"{rng.randrange(10**6):06d}", born, rng.randrange(1000))
        candidates = [code, *_mutations(rng, code, "0123456789X")]
        candidates.append(code[:6] + f"{rng.randrange(10**8):08d}" + code[14:])  # any 8 digits as the date
        candidates.append(
            code[:6]
            + rng.choice(
                ["18791231", "18800101", f"{today:%Y%m%d}", "20991231", "00000101", "20000229", "19000229", "20240230"]
            )
            + code[14:]
        )
        for candidate in candidates:
            expected = _answer(lambda c=candidate: _reference_citizen_id_problem(c, today))
            assert _answer(lambda c=candidate: citizen_id_problem(c, today=today)) == expected, candidate
            if candidate.isascii():
                assert citizen_id_plainly_valid(candidate, today) is (expected is None), candidate
            checked += 1
            valid += expected is None
    assert checked >= 200_000
    assert valid >= 20_000
    # every birth date: the fast check reads YYYYMMDD exactly as dt.date(int, int, int) does
    for year in (0, 1, 1879, 1880, 1900, 1999, 2000, 2004, today.year, today.year + 1, 9999):
        for month in range(100):
            for day in range(100):
                digits = f"{year:04d}{month:02d}{day:02d}"
                first17 = "222401" + digits + "123"
                weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
                code = first17 + "10X98765432"[sum(int(c) * w for c, w in zip(first17, weights, strict=True)) % 11]
                assert citizen_id_problem(code, today=today) == _reference_citizen_id_problem(code, today), code
