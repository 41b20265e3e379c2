"""The checks policy (grade points model, serious-list grounds, feedback deadline): one versioned TOML
file, validated at start-up like the core policy; a broken file stops the service."""

from __future__ import annotations

import hashlib
import os
import pathlib
import tomllib
from functools import cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.credit.policy.model import Duration

CHECKS_POLICY_FILE = pathlib.Path(__file__).with_name("checks.toml")

Grade = Literal["A", "B", "C", "D"]
Severity = Literal["general", "serious"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Thresholds(_Strict):
    A: int
    B: int
    C: int

    @model_validator(mode="after")
    def _descending(self) -> Thresholds:
        if not self.A > self.B > self.C:
            raise ValueError("grade thresholds must descend: A > B > C")
        return self


class BySeverity(_Strict):
    general: int = Field(ge=0, le=1000)
    serious: int = Field(ge=0, le=1000)


class EffectBySeverity(_Strict):
    general: Duration
    serious: Duration


class GradesPolicy(_Strict):
    start: int = Field(ge=0, le=1000)
    thresholds: Thresholds
    positive_cap: int = Field(ge=0, le=1000)
    unpublished_effect: EffectBySeverity
    count_disputed: bool = True
    deductions: dict[str, BySeverity]
    additions: dict[str, int]

    @model_validator(mode="after")
    def _defaults_present(self) -> GradesPolicy:
        if "default" not in self.deductions or "default" not in self.additions:
            raise ValueError("grades.deductions and grades.additions need a `default` entry")
        if any(v < 0 for v in self.additions.values()):
            raise ValueError("grades.additions must not be negative")
        return self

    def deduction(self, record_type: str, severity: str) -> tuple[int, str]:
        key = record_type if record_type in self.deductions else "default"
        row = self.deductions[key]
        return (row.serious if severity == "serious" else row.general), f"grades.deductions.{key}.{severity}"

    def addition(self, record_type: str, kind: str | None = None) -> tuple[int, str]:
        key = kind if kind and kind in self.additions else record_type
        key = key if key in self.additions else "default"
        return self.additions[key], f"grades.additions.{key}"


class Ground(_Strict):
    code: str = Field(pattern=r"^[a-z][a-z0-9_]{1,63}$")
    label: str = Field(min_length=1)
    basis: str = Field(min_length=1)
    record_types: list[str] = Field(min_length=1)
    severity: Severity | None = None
    body_min: dict[str, float] = Field(default_factory=dict)


class ListingPolicy(_Strict):
    period: Duration
    early_repair_after: Duration
    objection_working_days: int = Field(ge=1, le=60)
    grounds: list[Ground] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_codes(self) -> ListingPolicy:
        codes = [g.code for g in self.grounds]
        if len(codes) != len(set(codes)):
            raise ValueError("listing.grounds codes must be unique")
        return self

    def ground(self, code: str) -> Ground | None:
        return next((g for g in self.grounds if g.code == code), None)


class ChecksSection(_Strict):
    feedback_working_days: int = Field(ge=1, le=120)
    batch_max: int = Field(ge=1, le=100_000)


class ChecksPolicy(_Strict):
    version: str = Field(min_length=1)
    grades: GradesPolicy
    listing: ListingPolicy
    checks: ChecksSection
    digest: str = ""

    @property
    def label(self) -> str:
        """What a grade, list decision or check records: the version and the file's fingerprint."""
        return f"{self.version}+{self.digest}" if self.digest else self.version


def parse_checks_policy(raw: bytes) -> ChecksPolicy:
    data = tomllib.loads(raw.decode("utf-8"))
    data["digest"] = hashlib.sha256(raw).hexdigest()[:12]
    return ChecksPolicy.model_validate(data)


def load_checks_policy(path: pathlib.Path = CHECKS_POLICY_FILE) -> ChecksPolicy:
    return parse_checks_policy(path.read_bytes())


@cache
def default_checks_policy() -> ChecksPolicy:
    """The deployment's checks policy: `CREDIT_CHECKS_POLICY_FILE` if set, else the packaged file."""
    configured = os.environ.get("CREDIT_CHECKS_POLICY_FILE")
    return load_checks_policy(pathlib.Path(configured) if configured else CHECKS_POLICY_FILE)
