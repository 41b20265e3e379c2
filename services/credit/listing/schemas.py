from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.credit.common.types import LongText, ShortText, UsccShape

ManualEvent = Literal[
    "issue_notice", "lodge_objection", "reject_objection", "uphold_objection", "list", "cancel"
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ProposeIn(_In):
    uscc: UsccShape
    subject_kind: Literal["unit", "person"] = "unit"
    person_id: int | None = Field(
        default=None, ge=1, description="For a person: the unit's responsible person id."
    )
    ground: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,63}$")] = Field(
        description="A ground the policy names (listing.grounds)."
    )
    record_ids: list[uuid.UUID] = Field(
        min_length=1, max_length=50, description="Records that prove the ground."
    )
    reasons: LongText = Field(description="Reasons given to the unit (事实和理由).")


class TransitionIn(_In):
    event: ManualEvent = Field(
        description="issue_notice, lodge_objection, reject_objection, uphold_objection, list, cancel. "
        "Expiry and removal on withdrawal happen by themselves; early removal through credit repair "
        "comes with that capability."
    )
    reason: ShortText = Field(description="Why (audited with who decided).")
    document_no: ShortText | None = Field(
        default=None, description="issue_notice: the notice's document number."
    )


class ListingEventOut(BaseModel):
    event: str
    from_state: str | None
    to_state: str
    occurred_on: dt.date
    actor: str
    department: str
    reason: str | None
    recorded_at: dt.datetime


class ListingOut(BaseModel):
    id: uuid.UUID
    subject_kind: str
    uscc: str
    person_id: int | None
    ground: str
    record_ids: list[uuid.UUID]
    reasons: str
    state: str = Field(description="proposed / notice_issued / listed / removed / cancelled (extensible).")
    objection: str
    notice_issued_on: dt.date | None
    objection_until: dt.date | None
    objection_provisional: bool
    listed_on: dt.date | None
    list_until: dt.date | None
    ended_on: dt.date | None
    end_reason: str | None
    department: str
    policy_version: str
    version: int
    notice: dict[str, Any] | None = None
    events: list[ListingEventOut] = Field(default_factory=list)
