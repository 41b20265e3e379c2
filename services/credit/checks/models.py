from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.credit.db import Base


class Check(Base):
    """A credit check (信用核查) exactly as answered; a trigger refuses UPDATE and DELETE."""

    __tablename__ = "checks"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    code: Mapped[str] = mapped_column(Text)
    batch_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    uscc: Mapped[str] = mapped_column(String(18))
    unit_id: Mapped[int | None] = mapped_column(BigInteger)
    scenario: Mapped[str] = mapped_column(Text)
    case_ref: Mapped[str] = mapped_column(Text)
    purpose: Mapped[str] = mapped_column(Text)
    department: Mapped[str] = mapped_column(Text)
    officer: Mapped[str] = mapped_column(Text)
    client_id: Mapped[str] = mapped_column(Text)
    result: Mapped[str] = mapped_column(Text)
    grade: Mapped[str | None] = mapped_column(String(1))
    hit: Mapped[bool] = mapped_column(Boolean)
    check_date: Mapped[dt.date] = mapped_column(Date)
    feedback_due: Mapped[dt.date] = mapped_column(Date)
    # json, not jsonb: the exact bytes answered (answer_hash is their SHA-256)
    answer: Mapped[dict[str, Any]] = mapped_column(JSON)
    answer_hash: Mapped[str] = mapped_column(Text)
    policy_version: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        Index("ix_checks_department_check_date", "department", "check_date"),
        Index("ix_checks_uscc", "uscc"),
        Index("ix_checks_batch_id", "batch_id", postgresql_where=text("batch_id IS NOT NULL")),
    )


class CheckFeedback(Base):
    """What the approving officer did with a check (反馈): once per check."""

    __tablename__ = "check_feedback"

    check_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("checks.id"), primary_key=True)
    department: Mapped[str] = mapped_column(Text)
    officer: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(Text)
    decided_on: Mapped[dt.date] = mapped_column(Date)
    measures: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    measures_applied: Mapped[int] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    client_id: Mapped[str] = mapped_column(Text)
    on_time: Mapped[bool] = mapped_column(Boolean)
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
