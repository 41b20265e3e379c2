from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field


class ChangeOut(BaseModel):
    id: int = Field(description="Position of the entry; unique, not contiguous.")
    entity: str = Field(json_schema_extra={"x-extensible-enum": ["unit", "record", "grade", "listing"]})
    entity_id: str = Field(description="USCC for units, record id for records.")
    uscc: str
    operation: str = Field(json_schema_extra={"x-extensible-enum": ["created", "updated", "corrected", "withdrawn"]})
    version: int
    occurred_at: dt.datetime
    data: dict[str, Any]


class ChangePage(BaseModel):
    items: list[ChangeOut]
    next_cursor: str = Field(description="Pass as `after` next time; equals the request's cursor when nothing is new.")
    has_more: bool
    as_of: dt.datetime
