"""The measures catalogue (事项/对象/手段/主体/依据): data in `catalogue.toml`, validated at start-up,
looked up by scenario and grade. Unpublished measures never leave this module."""

from __future__ import annotations

import hashlib
import pathlib
import tomllib
from functools import cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from services.credit.policy.checks_model import Grade

CATALOGUE_FILE = pathlib.Path(__file__).with_name("catalogue.toml")

MeasureKind = Literal[
    "prohibit", "restrict", "strict_review", "key_supervision", "green_channel", "tolerance_acceptance"
]
DISCIPLINE_KINDS = frozenset({"prohibit", "restrict", "strict_review", "key_supervision"})
KIND_LABELS = {
    "prohibit": "禁止",
    "restrict": "限制",
    "strict_review": "从严审核",
    "key_supervision": "重点监管",
    "green_channel": "绿色通道",
    "tolerance_acceptance": "容缺受理",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Scenario(_Strict):
    label: str = Field(min_length=1)
    department: str = Field(min_length=1)


class Measure(_Strict):
    id: str = Field(pattern=r"^[A-Z]{2}-[A-D]-\d{2}$")
    scenario: str
    grades: list[Grade] = Field(min_length=1)
    kind: MeasureKind
    matter: str = Field(min_length=1, description="事项")
    target: str = Field(min_length=1, description="对象")
    means: str = Field(min_length=1, description="手段")
    actor: str = Field(min_length=1, description="主体: the department that applies it")
    basis: str = Field(min_length=1, description="依据 (short citation)")
    legal_basis: str = Field(min_length=1, description="legal basis text")
    published: bool

    @model_validator(mode="after")
    def _kind_fits_grades(self) -> Measure:
        incentive = self.kind not in DISCIPLINE_KINDS
        if incentive and set(self.grades) != {"A"}:
            raise ValueError(f"measure {self.id}: incentives ({self.kind}) apply to grade A only")
        if not incentive and "A" in self.grades:
            raise ValueError(f"measure {self.id}: discipline ({self.kind}) never applies to grade A")
        return self

    @property
    def polarity(self) -> str:
        return "discipline" if self.kind in DISCIPLINE_KINDS else "incentive"

    def public(self) -> dict[str, Any]:
        """What a check answers with (the published flag is implied)."""
        return {
            "id": self.id,
            "polarity": self.polarity,
            "kind": self.kind,
            "kind_label": KIND_LABELS[self.kind],
            "matter": self.matter,
            "target": self.target,
            "means": self.means,
            "actor": self.actor,
            "basis": self.basis,
            "legal_basis": self.legal_basis,
        }


class Catalogue(_Strict):
    version: str = Field(min_length=1)
    scenarios: dict[str, Scenario] = Field(min_length=1)
    measures: list[Measure]
    digest: str = ""
    _idx: dict[tuple[str, str], list[Measure]] | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _consistent(self) -> Catalogue:
        ids = [m.id for m in self.measures]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"measure ids used twice: {', '.join(dupes)}")
        for m in self.measures:
            if m.scenario not in self.scenarios:
                raise ValueError(f"measure {m.id}: unknown scenario {m.scenario!r}")
        return self

    def lookup(self, scenario: str, grade: str) -> list[Measure]:
        """Published measures of a scenario for a grade (discipline before incentives, then by id)."""
        return self._index().get((scenario, grade), [])

    def _index(self) -> dict[tuple[str, str], list[Measure]]:
        cached = self._idx
        if cached is None:
            cached = {}
            for m in sorted(self.measures, key=lambda m: (m.polarity != "discipline", m.id)):
                if m.published:
                    for g in m.grades:
                        cached.setdefault((m.scenario, g), []).append(m)
            self._idx = cached
        return cached

    def published(self, scenario: str | None = None) -> list[Measure]:
        return [m for m in self.measures if m.published and (scenario is None or m.scenario == scenario)]


def parse_catalogue(raw: bytes) -> Catalogue:
    data = tomllib.loads(raw.decode("utf-8"))
    data["digest"] = hashlib.sha256(raw).hexdigest()[:12]
    return Catalogue.model_validate(data)


def load_catalogue(path: pathlib.Path = CATALOGUE_FILE) -> Catalogue:
    return parse_catalogue(path.read_bytes())


@cache
def default_catalogue() -> Catalogue:
    return load_catalogue()
