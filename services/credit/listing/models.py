from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.credit.db import Base


class Listing(Base):
    """A serious-list (严重失信主体名单) entry of a unit or of one of its responsible persons."""

    __tablename__ = "listings"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    subject_kind: Mapped[str] = mapped_column(Text)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    uscc: Mapped[str] = mapped_column(String(18))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("unit_persons.id"))
    ground: Mapped[str] = mapped_column(Text)
    record_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid))
    reasons: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(Text)
    objection: Mapped[str] = mapped_column(Text, server_default="none")
    notice_issued_on: Mapped[dt.date | None] = mapped_column(Date)
    objection_until: Mapped[dt.date | None] = mapped_column(Date)
    objection_provisional: Mapped[bool] = mapped_column(Boolean, server_default="false")
    listed_on: Mapped[dt.date | None] = mapped_column(Date)
    list_until: Mapped[dt.date | None] = mapped_column(Date)
    ended_on: Mapped[dt.date | None] = mapped_column(Date)
    end_reason: Mapped[str | None] = mapped_column(Text)
    department: Mapped[str] = mapped_column(Text)
    proposed_by: Mapped[str] = mapped_column(Text)
    policy_version: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("subject_kind IN ('unit', 'person')", name="subject_kind"),
        CheckConstraint("(subject_kind = 'person') = (person_id IS NOT NULL)", name="person_subject"),
        Index(
            "ix_listings_unit_id",
            "unit_id",
            postgresql_where=text("state IN ('proposed', 'notice_issued', 'listed')"),
        ),
        Index("ix_listings_list_until", "list_until", postgresql_where=text("state = 'listed'")),
        Index("ix_listings_record_ids", "record_ids", postgresql_using="gin"),
    )


class ListingNotice(Base):
    """The notice (告知书) served before listing: reasons, basis, rights; stored as issued."""

    __tablename__ = "listing_notices"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    listing_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("listings.id"), unique=True)
    document_no: Mapped[str] = mapped_column(Text)
    issued_on: Mapped[dt.date] = mapped_column(Date)
    content: Mapped[dict[str, Any]] = mapped_column(JSONB)
    content_hash: Mapped[str] = mapped_column(Text)
    issued_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ListingEvent(Base):
    """Every transition of a listing: who decided, when, why (the audit trail of the list)."""

    __tablename__ = "listing_events"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    listing_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("listings.id"))
    event: Mapped[str] = mapped_column(Text)
    from_state: Mapped[str | None] = mapped_column(Text)
    to_state: Mapped[str] = mapped_column(Text)
    occurred_on: Mapped[dt.date] = mapped_column(Date)
    actor: Mapped[str] = mapped_column(Text)
    department: Mapped[str] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (Index("ix_listing_events_listing_id_id", "listing_id", "id"),)
