from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from services.kit.ids import (
    USCC_CHARSET,
    citizen_id_problem,
    make_citizen_id,
    make_uscc,
    mask_citizen_id,
    normalise_code,
    uscc_problem,
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
