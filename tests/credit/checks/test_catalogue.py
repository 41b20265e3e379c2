"""The measures catalogue: validated data, looked up by scenario and grade, published only."""

from __future__ import annotations

import pytest

from services.credit.measures.catalogue import CATALOGUE_FILE, default_catalogue, parse_catalogue

SCENARIOS = [
    "credit_evaluation",
    "project_approval",
    "land_use_approval",
    "financial_support",
    "fiscal_subsidy",
    "government_procurement",
    "commendation",
]


def test_every_scenario_has_D_and_C_measures_and_A_incentives_with_basis() -> None:
    cat = default_catalogue()
    assert sorted(cat.scenarios) == sorted(SCENARIOS)
    for scenario in SCENARIOS:
        for grade in ("D", "C"):
            found = cat.lookup(scenario, grade)
            assert found, (scenario, grade)
            assert all(m.polarity == "discipline" for m in found), (scenario, grade)
        incentives = cat.lookup(scenario, "A")
        assert incentives
        assert all(m.polarity == "incentive" for m in incentives)
        assert cat.lookup(scenario, "B") == []
        for m in [*cat.lookup(scenario, "D"), *cat.lookup(scenario, "C"), *incentives]:
            assert m.matter
            assert m.target
            assert m.means
            assert m.actor
            assert m.basis
            assert m.legal_basis


def test_unpublished_measures_are_never_returned() -> None:
    cat = default_catalogue()
    draft = [m for m in cat.measures if not m.published]
    assert draft, "the catalogue keeps a draft measure to prove the filter"
    for m in draft:
        for g in m.grades:
            assert m.id not in {x.id for x in cat.lookup(m.scenario, g)}
    assert all(m.published for m in cat.published())


def test_land_use_D_is_restriction_with_legal_basis() -> None:
    [m] = default_catalogue().lookup("land_use_approval", "D")
    assert m.kind == "restrict"
    assert "企业信息公示暂行条例" in m.legal_basis
    assert m.public()["kind_label"] == "限制"


def test_validation() -> None:
    text = CATALOGUE_FILE.read_text(encoding="utf-8")
    with pytest.raises(ValueError, match="unknown scenario"):
        parse_catalogue(text.replace('scenario = "commendation"', 'scenario = "nope"', 1).encode())
    with pytest.raises(ValueError, match="used twice"):
        parse_catalogue(text.replace('id = "CE-C-01"', 'id = "CE-D-01"', 1).encode())
    with pytest.raises(ValueError, match="grade A only"):
        parse_catalogue(text.replace('grades = ["A"]', 'grades = ["C"]', 1).encode())
