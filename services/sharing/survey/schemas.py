from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field


class SurveyUnitOut(BaseModel):
    """A unit the fire rescue agency should visit: newly registered or re-purposed into a fire-sensitive
    industry (Art. 15(26))."""

    uscc: str
    name: str
    reason: str = Field(json_schema_extra={"x-extensible-enum": ["new", "repurposed"]})
    unit_type: str
    industry_code: str = Field(description="GB/T 4754 code, e.g. H6110 (hotel).")
    previous_industry_code: str | None
    region_code: str
    address: str | None
    established_on: dt.date | None
    listed_on: dt.date = Field(description="The day (China Standard Time) the change arrived.")


class SurveyPage(BaseModel):
    items: list[SurveyUnitOut]
    next_cursor: str | None
    as_of: dt.datetime
