from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
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


class Record(Base):
    """The current version of a credit record; every version is kept in `record_versions`."""

    __tablename__ = "records"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    uscc: Mapped[str] = mapped_column(String(18))
    department: Mapped[str] = mapped_column(Text)
    record_type: Mapped[str] = mapped_column(Text)
    document_no: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(Text, server_default="active")
    disputed: Mapped[bool] = mapped_column(Boolean, server_default="false")
    severity: Mapped[str] = mapped_column(Text)
    polarity: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str] = mapped_column(Text)
    decision_date: Mapped[dt.date] = mapped_column(Date)
    conduct_ended_on: Mapped[dt.date] = mapped_column(Date)
    published: Mapped[bool] = mapped_column(Boolean)
    publish_min_until: Mapped[dt.date | None] = mapped_column(Date)
    publish_until: Mapped[dt.date | None] = mapped_column(Date)
    query_until: Mapped[dt.date | None] = mapped_column(Date)
    policy_version: Mapped[str] = mapped_column(Text)
    body: Mapped[dict[str, Any]] = mapped_column(JSONB)
    request_hash: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        Index(
            "uq_records_department_document_no",
            "department",
            "document_no",
            unique=True,
            postgresql_where=text("document_no IS NOT NULL"),
        ),
        Index("ix_records_unit_id_decision_date", "unit_id", "decision_date"),
    )


class RecordVersion(Base):
    """Append-only history: the record as it stood after each creation, correction or withdrawal."""

    __tablename__ = "record_versions"

    record_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("records.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    change_kind: Mapped[str] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSONB)
    changed_by: Mapped[str] = mapped_column(Text)
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class RecordPerson(Base):
    """Responsible persons a record names (Art. 28), linked to the unit's persons."""

    __tablename__ = "record_persons"

    record_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("records.id"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("unit_persons.id"), primary_key=True)
    role: Mapped[str] = mapped_column(Text)


class IdempotencyKey(Base):
    """A POST that created something, remembered per client and key so a retry gets the original."""

    __tablename__ = "idempotency_keys"

    client_id: Mapped[str] = mapped_column(Text, primary_key=True)
    operation: Mapped[str] = mapped_column(Text, primary_key=True)
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    request_hash: Mapped[str] = mapped_column(Text)
    status: Mapped[int] = mapped_column(Integer)
    resource: Mapped[str] = mapped_column(Text)
    response: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
