"""Credit record contract (v1): one validated schema per record type, never a free-form blob.

The body is `{type, unit_uscc, document_no, decision_date, severity, legal_basis, details: {...},
responsible_persons: [...]}`; `type` selects the schema of `details`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.credit.common.types import (
    CitizenId,
    DocumentNo,
    LegalDate,
    LongText,
    Money,
    Name,
    PastDate,
    ShortText,
    Uscc,
    UsccShape,
)

Severity = Literal["general", "serious"]
PenaltyCategory = Literal[
    "warning",  # 警告
    "public_criticism",  # 通报批评
    "fine",  # 罚款
    "confiscation",  # 没收违法所得、没收非法财物
    "licence_suspended",  # 暂扣许可证件
    "qualification_downgrade",  # 降低资质等级
    "licence_revoked",  # 吊销许可证件
    "business_restricted",  # 限制开展生产经营活动
    "production_suspended",  # 责令停产停业
    "closure_ordered",  # 责令关闭
    "employment_restricted",  # 限制从业
    "detention",  # 行政拘留
    "other",
]
RECORD_TYPES = (
    "administrative_penalty",
    "fire_incident",
    "major_hazard_unrectified",
    "commitment_breach",
    "fire_safety_assessment",
    "false_documents",
    "positive",
    "external_list_entry",
)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ResponsiblePersonRef(_In):
    """A person named by the decision (Art. 28); matched to the unit's persons by role and id."""

    role: Literal["legal_representative", "principal", "actual_controller", "fire_safety_manager", "direct_person"]
    name: Name
    citizen_id: CitizenId


class PenaltyDetails(_In):
    """行政处罚 with the 双公示 field set."""

    violation_type: ShortText
    facts: LongText
    penalty_categories: Annotated[list[PenaltyCategory], Field(min_length=1, max_length=13)]
    content: LongText
    fine_amount: Money | None = None
    confiscation_amount: Money | None = None
    licence_suspended: bool = False
    licence_revoked: bool = False
    authority_name: ShortText
    authority_uscc: Uscc
    source_department: ShortText


class FireIncidentDetails(_In):
    incident_date: PastDate
    severity_class: Literal["general", "larger", "major", "especially_major"] = Field(
        description="一般 general, 较大 larger, 重大 major, 特别重大 especially_major."
    )
    deaths: int = Field(ge=0, le=100_000)
    injuries: int = Field(ge=0, le=100_000)
    direct_loss_yuan: Money
    responsibility_finding: LongText


class MajorHazardDetails(_In):
    notice_document_no: DocumentNo
    hazard_description: LongText
    rectification_deadline: LegalDate
    found_unrectified_on: PastDate

    @model_validator(mode="after")
    def _after_deadline(self) -> MajorHazardDetails:
        if self.found_unrectified_on <= self.rectification_deadline:
            raise ValueError("found_unrectified_on must be after rectification_deadline")
        return self


class CommitmentBreachDetails(_In):
    commitment_date: PastDate
    commitment_content: LongText
    breach_facts: LongText


class AssessmentDetails(_In):
    """Art. 17(5): assessment of a high-risk unit, public and counted for its rating."""

    assessment_date: PastDate
    result: Literal["pass", "basic_pass", "fail"]
    assessor_name: ShortText
    assessor_uscc: Uscc
    report_no: DocumentNo


class FalseDocumentsDetails(_In):
    """Art. 22: a technical-service firm issued false or seriously inaccurate documents."""

    document_title: ShortText
    facts: LongText
    affected_unit_uscc: Uscc | None = None


class PositiveDetails(_In):
    kind: Literal["commendation", "liability_insurance", "assessment_passed"]
    title: ShortText
    granted_by: ShortText
    valid_until: LegalDate | None = None


class ExternalListDetails(_In):
    """An entry of another department's list, pulled from the shared credit platform."""

    list_name: ShortText
    list_kind: Literal["serious_dishonesty", "key_attention", "red_list"]
    source_department: ShortText
    external_id: ShortText
    listed_on: PastDate
    listed_until: LegalDate | None = None
    reason: LongText


class _RecordBase(_In):
    unit_uscc: UsccShape = Field(description="USCC of a registered unit.")
    document_no: DocumentNo | None = Field(
        default=None, description="Decision document number; with the department it is the natural key."
    )
    decision_date: PastDate = Field(description="Calendar date in China Standard Time.")
    conduct_ended_on: PastDate | None = Field(default=None, description="Defaults to the decision date.")
    severity: Severity
    legal_basis: LongText
    responsible_persons: Annotated[list[ResponsiblePersonRef], Field(max_length=20)] = Field(default_factory=list)


class PenaltyIn(_RecordBase):
    type: Literal["administrative_penalty"]
    document_no: DocumentNo = Field(description="Required for penalties: 行政处罚决定书文号.")
    details: PenaltyDetails


class FireIncidentIn(_RecordBase):
    type: Literal["fire_incident"]
    details: FireIncidentDetails


class MajorHazardIn(_RecordBase):
    type: Literal["major_hazard_unrectified"]
    details: MajorHazardDetails


class CommitmentBreachIn(_RecordBase):
    type: Literal["commitment_breach"]
    details: CommitmentBreachDetails


class AssessmentIn(_RecordBase):
    type: Literal["fire_safety_assessment"]
    details: AssessmentDetails


class FalseDocumentsIn(_RecordBase):
    type: Literal["false_documents"]
    details: FalseDocumentsDetails


class PositiveIn(_RecordBase):
    type: Literal["positive"]
    details: PositiveDetails


class ExternalListIn(_RecordBase):
    type: Literal["external_list_entry"]
    details: ExternalListDetails


RecordIn = Annotated[
    PenaltyIn
    | FireIncidentIn
    | MajorHazardIn
    | CommitmentBreachIn
    | AssessmentIn
    | FalseDocumentsIn
    | PositiveIn
    | ExternalListIn,
    Field(discriminator="type"),
]


class CorrectionIn(_In):
    reason: LongText = Field(description="Why the record is corrected; kept in its history.")
    record: RecordIn = Field(description="The whole corrected record; type and unit cannot change.")


class WithdrawalIn(_In):
    reason: LongText
    revoked_by: Literal["reconsideration", "court", "source_department"] = Field(
        description="行政复议, 诉讼 or the deciding department itself."
    )
    revocation_document_no: DocumentNo | None = None
    revoked_on: PastDate


class PublicationOut(BaseModel):
    published: bool = Field(description="False for warning-only / 通报批评 decisions: recorded, never public.")
    publish_from: dt.date
    min_until: dt.date | None = Field(description="Earliest end by credit repair.")
    until: dt.date | None = Field(description="Publication ends automatically on this date.")
    query_until: dt.date | None = Field(description="Officers stop seeing the record after this date.")
    policy_version: str


class PersonRefOut(BaseModel):
    role: str
    name: str
    citizen_id: str
    citizen_id_masked: bool


class RecordOut(BaseModel):
    id: uuid.UUID
    type: str = Field(json_schema_extra={"x-extensible-enum": list(RECORD_TYPES)})
    unit_uscc: str
    department: str
    document_no: str | None
    decision_date: dt.date
    conduct_ended_on: dt.date
    severity: str
    polarity: str = Field(json_schema_extra={"x-extensible-enum": ["bad", "positive"]})
    legal_basis: str
    details: dict[str, object]
    responsible_persons: list[PersonRefOut]
    status: str = Field(
        json_schema_extra={"x-extensible-enum": ["public", "internal_only", "publication_ended", "withdrawn"]},
        description="public: shown to everyone; internal_only: recorded, not published; publication_ended: past "
        "its window (kept); withdrawn: decision revoked (kept).",
    )
    disputed: bool = Field(description="An objection against this record is open (objection workflow).")
    withdrawal: dict[str, object] | None = Field(
        description="Why and by whom the decision was revoked, once withdrawn."
    )
    publication: PublicationOut
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    as_of: dt.datetime


class RecordVersionOut(BaseModel):
    version: int
    change_kind: str = Field(json_schema_extra={"x-extensible-enum": ["created", "corrected", "withdrawn"]})
    reason: str | None
    changed_by: str
    changed_at: dt.datetime
    record: dict[str, object]


class RecordHistory(BaseModel):
    id: uuid.UUID
    versions: list[RecordVersionOut]
    as_of: dt.datetime


class RecordPage(BaseModel):
    items: list[RecordOut]
    next_cursor: str | None
    as_of: dt.datetime
