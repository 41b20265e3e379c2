from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.credit.db import Base


class UnitGrade(Base):
    """The current grade of a unit, with the explanation that produced it."""

    __tablename__ = "grades"

    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), primary_key=True)
    uscc: Mapped[str] = mapped_column(String(18))
    grade: Mapped[str] = mapped_column(String(1))
    score: Mapped[int] = mapped_column(Integer)
    explanation: Mapped[dict[str, Any]] = mapped_column(JSONB)
    policy_version: Mapped[str] = mapped_column(Text)
    evaluated_on: Mapped[dt.date] = mapped_column(Date)
    next_change_on: Mapped[dt.date | None] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("grade IN ('A', 'B', 'C', 'D')", name="grade"),
        Index(
            "ix_grades_next_change_on", "next_change_on", postgresql_where=text("next_change_on IS NOT NULL")
        ),
    )


class GradeHistory(Base):
    """Every grade a unit received that differs in grade, score or explanation from the one before."""

    __tablename__ = "grade_history"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"))
    uscc: Mapped[str] = mapped_column(String(18))
    grade: Mapped[str] = mapped_column(String(1))
    previous_grade: Mapped[str | None] = mapped_column(String(1))
    score: Mapped[int] = mapped_column(Integer)
    explanation: Mapped[dict[str, Any]] = mapped_column(JSONB)
    policy_version: Mapped[str] = mapped_column(Text)
    evaluated_on: Mapped[dt.date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (Index("ix_grade_history_unit_id_id", "unit_id", "id"),)


class GradeQueue(Base):
    """Units whose records changed; filled by a trigger on records in the writer's transaction."""

    __tablename__ = "grade_queue"

    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), primary_key=True)
    queued_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
