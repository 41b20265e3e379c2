from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Boolean, Date, DateTime, Integer, LargeBinary, Numeric, String, Text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.sharing.db import Base


class FeedSource(Base):
    """A feed's high-water marks: the last applied sequence and the last full snapshot's size."""

    __tablename__ = "feed_sources"

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    mapping: Mapped[str] = mapped_column(Text)
    last_sequence: Mapped[int | None] = mapped_column(Integer)
    last_full_sequence: Mapped[int | None] = mapped_column(Integer)
    last_full_record_count: Mapped[int | None] = mapped_column(Integer)
    last_run_id: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class SyncRun(Base):
    """One ingest run: its phase and watermark (committed with each batch) and its report."""

    __tablename__ = "sync_runs"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    source: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    transport: Mapped[str] = mapped_column(Text)
    location: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(Text)
    sequence: Mapped[int | None] = mapped_column(Integer)
    base_sequence: Mapped[int | None] = mapped_column(Integer)
    declared_count: Mapped[int | None] = mapped_column(Integer)
    encoding: Mapped[str | None] = mapped_column(Text)
    mapping: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)
    phase: Mapped[str] = mapped_column(Text)
    forced: Mapped[bool] = mapped_column(Boolean)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    rows_read: Mapped[int] = mapped_column(Integer)
    blank_lines: Mapped[int] = mapped_column(Integer)
    staged: Mapped[int] = mapped_column(Integer)
    quarantined: Mapped[int] = mapped_column(Integer)
    new: Mapped[int] = mapped_column(Integer)
    changed: Mapped[int] = mapped_column(Integer)
    status_changed: Mapped[int] = mapped_column(Integer)
    unchanged: Mapped[int] = mapped_column(Integer)
    absent: Mapped[int] = mapped_column(Integer)
    forwarded: Mapped[int] = mapped_column(Integer)
    forward_rejected: Mapped[int] = mapped_column(Integer)
    forward_pending: Mapped[int] = mapped_column(Integer)
    survey_listed: Mapped[int] = mapped_column(Integer)
    apply_after: Mapped[str] = mapped_column(Text)
    rejects: Mapped[dict[str, Any]] = mapped_column(JSONB)
    guard: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    timings: Mapped[dict[str, Any]] = mapped_column(JSONB)
    message: Mapped[str | None] = mapped_column(Text)
    host: Mapped[str | None] = mapped_column(Text)
    pid: Mapped[int | None] = mapped_column(Integer)


class RegistryUnit(Base):
    """sharing's mirror of the market-regulation registry, with provenance (credit's acknowledgements
    are in `ForwardState`)."""

    __tablename__ = "registry"

    uscc: Mapped[str] = mapped_column(String(18), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    entity_type: Mapped[str | None] = mapped_column(Text)
    unit_type: Mapped[str] = mapped_column(Text)
    legal_rep_name: Mapped[str | None] = mapped_column(Text)
    legal_rep_id_hash: Mapped[bytes | None] = mapped_column(LargeBinary)
    legal_rep_id_cipher: Mapped[bytes | None] = mapped_column(LargeBinary)
    legal_rep_id_masked: Mapped[str | None] = mapped_column(String(18))
    registered_capital: Mapped[float | None] = mapped_column(Numeric(20, 4))
    capital_currency: Mapped[str | None] = mapped_column(String(3))
    established_on: Mapped[dt.date | None] = mapped_column(Date)
    reg_authority: Mapped[str | None] = mapped_column(Text)
    reg_status: Mapped[str] = mapped_column(Text)
    reg_status_label: Mapped[str] = mapped_column(Text)
    reg_status_date: Mapped[dt.date | None] = mapped_column(Date)
    address: Mapped[str | None] = mapped_column(Text)
    region_code: Mapped[str] = mapped_column(String(6))
    industry_code: Mapped[str | None] = mapped_column(String(5))
    business_scope: Mapped[str | None] = mapped_column(Text)
    changed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    content_hash: Mapped[bytes] = mapped_column(LargeBinary)
    source: Mapped[str] = mapped_column(Text)
    source_location: Mapped[str] = mapped_column(Text)
    source_line: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    run_id: Mapped[int] = mapped_column(BigInteger)
    first_seen_run: Mapped[int] = mapped_column(BigInteger)
    first_seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    absent_since: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class ForwardState(Base):
    """What credit acknowledged of a mirror unit: the content hash it holds (and its version), or the
    content hash it rejected. A unit is pending while neither equals the mirror's content hash."""

    __tablename__ = "forward_state"

    uscc: Mapped[str] = mapped_column(String(18), primary_key=True)
    forwarded_hash: Mapped[bytes | None] = mapped_column(LargeBinary)
    forward_version: Mapped[int | None] = mapped_column(Integer)
    forwarded_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    rejected_hash: Mapped[bytes | None] = mapped_column(LargeBinary)


class RegistryChange(Base):
    """The diff a run applied: new units, changed fields, status changes."""

    __tablename__ = "registry_changes"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    run_id: Mapped[int] = mapped_column(BigInteger)
    uscc: Mapped[str] = mapped_column(String(18))
    kind: Mapped[str] = mapped_column(Text)
    fields: Mapped[list[str]] = mapped_column(ARRAY(Text))
    old_status: Mapped[str | None] = mapped_column(Text)
    new_status: Mapped[str | None] = mapped_column(Text)
    source_line: Mapped[int | None] = mapped_column(Integer)
