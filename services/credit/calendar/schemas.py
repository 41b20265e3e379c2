from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.credit.common.types import ShortText


class DayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    day: dt.date
    kind: Literal["holiday", "workday"] = Field(
        description="holiday: off; workday: a make-up working day (调休)."
    )
    name: ShortText


class YearIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: ShortText = Field(description="The State Council notice, e.g. 国办发明电〔2027〕N号.")
    days: list[DayIn] = Field(min_length=1, max_length=366)
