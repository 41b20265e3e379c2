"""Unit contract (v1). Input enums are closed; clients must treat output enums as extensible."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from services.credit.common.types import (
    CitizenId,
    IndustryCode,
    Name,
    PastDate,
    RegionCode,
    ShortText,
    UsccShape,
)
from services.kit.errors import FieldError

UnitType = Literal["enterprise", "individual_business", "institution", "social_organisation", "government_organ"]
FireClass = Literal["general", "key_unit", "high_risk_unit", "technical_service", "construction_participant"]
# 存续 / 吊销 / 注销 / 迁出 / 撤销
RegStatus = Literal["operating", "licence_revoked", "deregistered", "moved_out", "cancelled"]
PersonRole = Literal["legal_representative", "principal", "actual_controller", "fire_safety_manager"]

REG_STATUS_LABELS = {
    "operating": "存续",
    "licence_revoked": "吊销",
    "deregistered": "注销",
    "moved_out": "迁出",
    "cancelled": "撤销",
}


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PersonIn(_In):
    role: PersonRole
    name: Name
    citizen_id: CitizenId = Field(description="18-character citizen id (GB 11643); stored protected, shown masked.")


class UsccOverride(_In):
    reason: ShortText = Field(description="Why a code failing its checksum is registered anyway; audited.")


class UnitIn(_In):
    """A unit as a writer sends it. Omitted optional fields keep their stored value on upsert."""

    uscc: UsccShape = Field(description="Unified social credit code; normalised (NFKC, trimmed, upper-case).")
    name: Name
    unit_type: UnitType
    fire_class: FireClass | None = Field(
        default=None, description="Omitted: `general` for a new unit, unchanged otherwise."
    )
    reg_status: RegStatus = Field(
        description="存续 operating, 吊销 licence_revoked, 注销 deregistered, 迁出 moved_out, 撤销 cancelled."
    )
    reg_status_date: PastDate | None = None
    reg_authority: ShortText | None = None
    region_code: RegionCode = Field(description="6-digit administrative region code (Yanbian: 2224xx).")
    industry_code: IndustryCode | None = Field(
        default=None, description="GB/T 4754 code: section letter plus up to 4 digits."
    )
    address: ShortText | None = None
    established_on: PastDate | None = None
    persons: Annotated[list[PersonIn], Field(max_length=20)] | None = Field(
        default=None, description="Responsible persons; when given they replace the stored ones."
    )
    uscc_override: UsccOverride | None = Field(
        default=None, description="Register a real code that fails its checksum (needs the `units:override` scope)."
    )


class UnitPatch(_In):
    """Fields to change; everything omitted stays as it is."""

    name: Name | None = None
    unit_type: UnitType | None = None
    fire_class: FireClass | None = None
    reg_status: RegStatus | None = None
    reg_status_date: PastDate | None = None
    reg_authority: ShortText | None = None
    region_code: RegionCode | None = None
    industry_code: IndustryCode | None = None
    address: ShortText | None = None
    established_on: PastDate | None = None
    persons: Annotated[list[PersonIn], Field(max_length=20)] | None = None


class PersonOut(BaseModel):
    role: str
    name: str
    citizen_id: str = Field(description="Masked (`222401********123X`) unless the caller holds `pii:read`.")
    citizen_id_masked: bool


class UnitOut(BaseModel):
    uscc: str
    name: str
    unit_type: str = Field(json_schema_extra={"x-extensible-enum": list(get_args(UnitType))})
    fire_class: str = Field(json_schema_extra={"x-extensible-enum": list(get_args(FireClass))})
    reg_status: str = Field(json_schema_extra={"x-extensible-enum": list(get_args(RegStatus))})
    reg_status_label: str = Field(description="Chinese label of the registration status, e.g. 存续.")
    reg_status_date: dt.date | None
    reg_authority: str | None
    region_code: str
    industry_code: str | None
    address: str | None
    established_on: dt.date | None
    uscc_checksum_overridden: bool
    persons: list[PersonOut]
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    as_of: dt.datetime = Field(description="When this answer was read from the database.")


class UnitPage(BaseModel):
    items: list[UnitOut]
    next_cursor: str | None = Field(
        description="Opaque; pass as `cursor` to read the next page. Null on the last page."
    )
    as_of: dt.datetime


BULK_MAX_ITEMS = 10_000


class BulkUpsertIn(_In):
    items: Annotated[list[UnitIn], Field(min_length=1, max_length=BULK_MAX_ITEMS)]


class BulkItemResult(BaseModel):
    index: int
    uscc: str
    outcome: str = Field(json_schema_extra={"x-extensible-enum": ["created", "updated", "unchanged", "rejected"]})
    version: int | None = None
    errors: list[FieldError] = Field(default_factory=list)


class BulkCounts(BaseModel):
    created: int
    updated: int
    unchanged: int
    rejected: int


class BulkUpsertOut(BaseModel):
    counts: BulkCounts
    results: list[BulkItemResult]
    as_of: dt.datetime
