from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.credit.db import Base


class Unit(Base):
    """A unit (单位 / 市场主体) identified by its USCC."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    uscc: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(Text)
    unit_type: Mapped[str] = mapped_column(Text)
    fire_class: Mapped[str] = mapped_column(Text, server_default="general")
    reg_status: Mapped[str] = mapped_column(Text)
    reg_status_date: Mapped[dt.date | None] = mapped_column(Date)
    reg_authority: Mapped[str | None] = mapped_column(Text)
    region_code: Mapped[str] = mapped_column(String(6))
    industry_code: Mapped[str | None] = mapped_column(String(5))
    address: Mapped[str | None] = mapped_column(Text)
    established_on: Mapped[dt.date | None] = mapped_column(Date)
    uscc_override_reason: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    content_hash: Mapped[bytes] = mapped_column(LargeBinary)
    updated_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        Index("ix_units_region_code", "region_code"),
        Index("ix_units_fire_class", "fire_class"),
        Index("ix_units_reg_status", "reg_status"),
    )


class UnitPerson(Base):
    """A responsible person of a unit (Art. 5 and 28); the id number is kept only protected."""

    __tablename__ = "unit_persons"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    id_hash: Mapped[bytes] = mapped_column(LargeBinary)
    id_cipher: Mapped[bytes] = mapped_column(LargeBinary)
    id_masked: Mapped[str] = mapped_column(String(18))
    # persons removed from a unit stay (records may name them) but are no longer current
    current: Mapped[bool] = mapped_column(Boolean, server_default="true")

    __table_args__ = (
        Index("uq_unit_persons_unit_role_id", "unit_id", "role", "id_hash", unique=True),
        Index("ix_unit_persons_id_hash", "id_hash"),
    )
