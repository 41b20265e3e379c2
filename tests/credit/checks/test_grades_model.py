"""The grade points model as pure functions, with a fixed `today` for time travel."""

from __future__ import annotations

import datetime as dt

import pytest

from services.credit.grades.model import ListingFact, RecordFact, evaluate
from services.credit.policy.checks_model import default_checks_policy, parse_checks_policy

D = dt.date
POLICY = default_checks_policy()


def bad(
    i: str,
    rtype: str = "administrative_penalty",
    severity: str = "general",
    decided: dt.date = D(2026, 3, 1),
    until: dt.date | None = D(2027, 3, 1),
    state: str = "active",
    disputed: bool = False,
    document_no: str | None = None,
) -> RecordFact:
    return RecordFact(
        id=i,
        record_type=rtype,
        severity=severity,
        polarity="bad",
        decision_date=decided,
        publish_until=until,
        state=state,
        disputed=disputed,
        document_no=document_no,
    )


def good(i: str, kind: str, decided: dt.date = D(2026, 1, 1)) -> RecordFact:
    return RecordFact(
        id=i,
        record_type="positive",
        kind=kind,
        severity="general",
        polarity="positive",
        decision_date=decided,
        publish_until=D(2029, 1, 1),
    )


def test_no_records_is_A_with_start_line() -> None:
    result = evaluate([], POLICY, D(2026, 6, 1))
    assert (result.grade, result.score) == ("A", 100)
    assert result.lines[0].rule == "grades.start"
    assert result.explanation()["policy_version"] == POLICY.version
    assert result.next_change_on is None


def test_serious_penalty_drops_grade_with_explained_points() -> None:
    result = evaluate(
        [bad("r1", severity="serious", document_no="延消行罚决字〔2026〕1号")], POLICY, D(2026, 6, 1)
    )
    assert (result.grade, result.score) == ("B", 80)
    line = next(x for x in result.lines if x.record_id == "r1")
    assert line.points == -20
    assert line.rule == "grades.deductions.administrative_penalty.serious"
    assert "延消行罚决字〔2026〕1号" in line.text
    assert result.next_change_on == D(2027, 3, 1)


def test_thresholds_and_D_by_points() -> None:
    two = [bad("a", "fire_incident", "serious"), bad("b", "major_hazard_unrectified", "serious")]
    assert evaluate(two, POLICY, D(2026, 6, 1)).grade == "D"  # 100 - 30 - 30 = 40
    one = [bad("a", "fire_incident", "serious")]
    assert evaluate(one, POLICY, D(2026, 6, 1)).grade == "C"  # 70


def test_record_leaving_its_window_changes_grade_that_day() -> None:
    facts = [bad("r1", severity="serious", until=D(2027, 3, 1))]
    assert evaluate(facts, POLICY, D(2027, 2, 28)).grade == "B"
    after = evaluate(facts, POLICY, D(2027, 3, 1))
    assert (after.grade, after.score) == ("A", 100)


def test_future_decision_is_a_boundary_not_a_deduction() -> None:
    result = evaluate([bad("r1", decided=D(2026, 7, 1))], POLICY, D(2026, 6, 1))
    assert result.score == 100
    assert result.next_change_on == D(2026, 7, 1)


def test_withdrawn_records_do_not_count_disputed_ones_do_and_are_flagged() -> None:
    facts = [bad("w", severity="serious", state="withdrawn"), bad("d", disputed=True)]
    result = evaluate(facts, POLICY, D(2026, 6, 1))
    assert result.score == 95
    assert next(x for x in result.lines if x.record_id == "d").flags == ("disputed",)


def test_unpublished_record_counts_for_policy_effect_period() -> None:
    warning = bad("w", until=None, decided=D(2026, 3, 1))
    assert evaluate([warning], POLICY, D(2026, 5, 31)).score == 95
    assert evaluate([warning], POLICY, D(2026, 6, 1)).score == 100  # P3M later


def test_positive_additions_are_capped() -> None:
    facts = [
        bad("p", "fire_incident", "serious"),
        good("c1", "commendation"),
        good("c2", "commendation"),
        good("i", "liability_insurance"),
    ]
    result = evaluate(facts, POLICY, D(2026, 6, 1))
    assert result.score == 100 - 30 + 10
    cap = next(x for x in result.lines if x.rule == "grades.positive_cap")
    assert cap.points == -3


def test_on_serious_list_is_D_whatever_the_score() -> None:
    listing = ListingFact("l1", "fire_with_deaths", D(2026, 5, 1), D(2029, 5, 1))
    result = evaluate([], POLICY, D(2026, 6, 1), [listing])
    assert result.grade == "D"
    assert result.score == 100
    assert result.lines[-1].rule == "listing.serious_list"
    assert result.next_change_on == D(2029, 5, 1)


def test_unknown_record_type_uses_default_deduction() -> None:
    result = evaluate([bad("x", "some_new_type", "serious")], POLICY, D(2026, 6, 1))
    assert result.score == 80
    assert result.lines[1].rule == "grades.deductions.default.serious"


def test_policy_validation_refuses_bad_thresholds() -> None:
    raw = (POLICY_PATH_TEXT := _policy_text()).replace("A = 90, B = 75", "A = 70, B = 75")
    assert raw != POLICY_PATH_TEXT
    with pytest.raises(ValueError, match="descend"):
        parse_checks_policy(raw.encode())


def _policy_text() -> str:
    from services.credit.policy.checks_model import CHECKS_POLICY_FILE

    return CHECKS_POLICY_FILE.read_text(encoding="utf-8")
