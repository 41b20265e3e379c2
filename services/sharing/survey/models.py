from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Date, DateTime, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.sharing.db import Base


class SurveyUnit(Base):
    """A newly registered or re-purposed unit in a fire-sensitive industry, listed for a survey visit."""

    __tablename__ = "survey_units"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    listed_on: Mapped[dt.date] = mapped_column(Date)
    uscc: Mapped[str] = mapped_column(String(18))
    reason: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    unit_type: Mapped[str] = mapped_column(Text)
    industry_code: Mapped[str] = mapped_column(String(5))
    previous_industry_code: Mapped[str | None] = mapped_column(String(5))
    region_code: Mapped[str] = mapped_column(String(6))
    address: Mapped[str | None] = mapped_column(Text)
    established_on: Mapped[dt.date | None] = mapped_column(Date)
    run_id: Mapped[int] = mapped_column(BigInteger)
    listed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
