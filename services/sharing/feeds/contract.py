"""The registration feed contract v1 as a pydantic model: the source of
`contracts/feeds/registration/v1/record.schema.json` and a check on the hot-path normaliser."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

RegStatus = Literal["operating", "licence_revoked", "deregistered", "moved_out", "cancelled"]
UnitType = Literal["enterprise", "individual_business", "institution", "social_organisation", "government_organ"]


class FeedRecordModel(BaseModel):
    """One market entity as registered (市场主体登记信息), after normalisation."""

    model_config = ConfigDict(extra="forbid", title="RegistrationRecord")

    uscc: str = Field(pattern=r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$",
                      description="统一社会信用代码 (GB 32100), checksums verified.")
    name: str = Field(min_length=1, max_length=200, description="企业名称 entname.")
    entity_type: str | None = Field(default=None, max_length=100, description="企业类型 label as registered.")
    unit_type: UnitType = Field(description="Mapped from entity_type by the source's mapping.")
    legal_rep_name: str | None = Field(default=None, max_length=200, description="法定代表人/负责人/经营者.")
    legal_rep_id: str | None = Field(default=None, pattern=r"^\d{17}[\dX]$",
                                     description="Citizen id (GB 11643) where given; stored protected.")
    registered_capital: Decimal | None = Field(default=None, ge=0, description="注册资本 in 万 (10,000) units.")
    capital_currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    established_on: dt.date | None = Field(default=None, description="成立日期.")
    reg_authority: str | None = Field(default=None, max_length=500, description="登记机关.")
    reg_status: RegStatus = Field(description="登记状态 mapped: 存续/吊销/注销/迁出/撤销.")
    reg_status_label: str = Field(description="登记状态 as registered, e.g. 存续（在营、开业、在册）.")
    reg_status_date: dt.date | None = Field(default=None, description="核准日期 of the current status.")
    address: str | None = Field(default=None, max_length=500, description="住所 dom.")
    region_code: str = Field(pattern=r"^\d{6}$", description="Administrative region (USCC positions 3-8 if absent).")
    industry_code: str | None = Field(default=None, pattern=r"^[A-T](\d{2,4})?$", description="GB/T 4754 code.")
    business_scope: str | None = Field(default=None, max_length=10_000, description="经营范围 opscope.")
    changed_at: dt.datetime | None = Field(default=None, description="When the registry changed the record.")
    change_type: Literal["new", "changed", "cancelled"] | None = Field(default=None, description="Deltas only.")
