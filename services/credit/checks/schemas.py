"""Credit check contract (v1). Output enums are extensible: clients must accept values they do not know."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from services.credit.common.types import LegalDate, ShortText, UsccShape


def _printable(value: object) -> object:
    """No control characters (PostgreSQL text cannot hold NUL) and no lone surrogates (not UTF-8)."""
    if isinstance(value, str):
        if any(ord(c) < 32 and c not in "\n\t" for c in value):
            raise ValueError("control characters are not allowed")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError("not valid Unicode text") from exc
    return value


Text = BeforeValidator(_printable)

Scenario = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,63}$"),
    Field(
        description="Approval scenario from the measures catalogue: credit_evaluation, project_approval, "
        "land_use_approval, financial_support, fiscal_subsidy, government_procurement, commendation "
        "(extensible; `GET /v1/measures` lists them).",
        examples=["land_use_approval"],
    ),
]
CaseRef = Annotated[
    str,
    Text,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    Field(
        description="The approval case this check is made for (案件编号).",
        examples=["延自然资审〔2026〕118号"],
    ),
]
Officer = Annotated[
    str,
    Text,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    Field(description="The officer making the check (id or name).", examples=["officer-0193 李明"]),
]
Department = Annotated[
    str,
    Text,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    Field(description="Requesting department; must be the caller's own (defaults to it)."),
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CheckIn(_In):
    uscc: UsccShape = Field(description="The unit's USCC (normalised: trimmed, half-width, upper-case).")
    scenario: Scenario
    case_ref: CaseRef
    purpose: ShortText = Field(description="Why the check is made (用途).", examples=["国有建设用地使用权出让资格审查"])
    officer: Officer
    department: Department | None = None


class BatchCheckIn(_In):
    usccs: list[UsccShape] = Field(
        min_length=1,
        max_length=10_000,
        description="Up to 10,000 USCCs; duplicates are answered once, in order of first appearance.",
    )
    scenario: Scenario
    case_ref: CaseRef
    purpose: ShortText
    officer: Officer
    department: Department | None = None


class MeasureApplied(_In):
    measure_id: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}-[A-D]-\d{2}$")]
    applied: bool
    reason: ShortText | None = Field(default=None, description="Why it was (not) applied; required when not applied.")


class FeedbackIn(_In):
    outcome: Literal["approved", "approved_with_conditions", "rejected", "withdrawn", "suspended"]
    decided_on: LegalDate = Field(description="Date of the approval decision (China Standard Time).")
    officer: Officer
    measures: list[MeasureApplied] = Field(default_factory=list, max_length=100)
    note: Annotated[str, Text, StringConstraints(max_length=2000)] | None = None


class VerifyIn(_In):
    code: Annotated[str, Text, StringConstraints(strip_whitespace=True, min_length=4, max_length=32)] = Field(
        description="The verification code printed on the check."
    )


class GradeLine(BaseModel):
    rule: str
    points: int
    text: str
    record_id: str | None = None
    listing_id: str | None = None
    until: dt.date | None = None
    flags: list[str] = Field(default_factory=list)


class GradeOut(BaseModel):
    grade: str = Field(description="A 诚信 / B 基本诚信 / C 失信关注 / D 严重失信 (extensible).")
    label: str
    score: int
    evaluated_on: dt.date
    policy_version: str
    policy_digest: str | None = None
    lines: list[GradeLine]


class UnitRef(BaseModel):
    uscc: str
    name: str
    unit_type: str
    fire_class: str
    reg_status: str
    reg_status_label: str | None = None
    reg_status_date: dt.date | None = None
    region_code: str
    deregistered: bool = Field(description="True when the unit is deregistered, revoked, cancelled or moved out.")


class ListingRef(BaseModel):
    id: uuid.UUID
    subject_kind: str
    person_role: str | None = None
    person_name: str | None = None
    ground: str
    ground_label: str | None = None
    basis: str | None = None
    state: str
    listed_on: dt.date | None = None
    list_until: dt.date | None = None


class SeriousListStatus(BaseModel):
    listed: bool = Field(description="The unit itself is on the serious list.")
    persons_listed: bool = Field(description="A responsible person of the unit is on the serious list.")
    pending: bool = Field(description="A listing is proposed or notified but not yet decided.")
    entries: list[ListingRef]


class RecordRef(BaseModel):
    id: uuid.UUID
    type: str
    document_no: str | None = None
    department: str
    severity: str
    polarity: str
    decision_date: dt.date
    publish_until: dt.date | None = None
    legal_basis: str
    status: str = Field(description="public / internal_only / publication_ended / withdrawn (extensible).")
    visibility: Literal["public", "internal"]
    disputed: bool


class MeasureOut(BaseModel):
    id: str
    polarity: str = Field(description="discipline or incentive.")
    kind: str
    kind_label: str
    matter: str = Field(description="事项")
    target: str = Field(description="对象")
    means: str = Field(description="手段")
    actor: str = Field(description="主体: the department that applies it")
    basis: str = Field(description="依据")
    legal_basis: str


class CheckOut(BaseModel):
    id: uuid.UUID
    verification_code: str
    created_at: dt.datetime
    as_of: dt.datetime = Field(description="The moment the unit's data was read.")
    uscc: str
    scenario: str
    case_ref: str
    purpose: str
    department: str
    officer: str
    result: str = Field(description="found, or unknown (no unit registered under this USCC: NOT a clean record).")
    notices: list[str]
    unit: UnitRef | None
    grade: GradeOut | None
    serious_list: SeriousListStatus | None
    records: list[RecordRef]
    measures: list[MeasureOut]
    hit: bool = Field(description="The unit grades C or D, or is on the serious list.")
    feedback_due: dt.date
    feedback_due_provisional: bool
    policy_version: str
    catalogue_version: str


class BatchItemOut(BaseModel):
    index: int
    check: CheckOut


class BatchOut(BaseModel):
    batch_id: uuid.UUID
    count: int
    duplicates: int
    items: list[CheckOut]


class FeedbackOut(BaseModel):
    check_id: uuid.UUID
    department: str
    officer: str
    outcome: str
    decided_on: dt.date
    measures: list[dict[str, Any]]
    measures_applied: int
    note: str | None
    on_time: bool
    recorded_at: dt.datetime


class VerifyOut(BaseModel):
    valid: bool
    id: uuid.UUID
    uscc: str | None = None
    created_at: dt.datetime | None = None
    grade: str | None = None
    answer_hash: str | None = None


class StatsRow(BaseModel):
    department: str
    scenario: str
    checks: int
    hits: int
    unknown: int
    feedback: int
    feedback_rate: float
    measures_applied: int
    overdue_feedback: int


class StatsOut(BaseModel):
    date_from: dt.date
    date_to: dt.date
    as_of: dt.datetime
    rows: list[StatsRow]
