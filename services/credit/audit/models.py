from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, DateTime, Identity, Integer, LargeBinary, String, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from services.credit.changes.models import Xid8
from services.credit.db import Base


class AuditEntry(Base):
    """Who asked what about which unit, for which case, and a digest of what was answered.
    Append-only (a trigger refuses UPDATE and DELETE); sealed into a hash chain by `AuditSeal`."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    txid: Mapped[int] = mapped_column(Xid8, server_default=text("pg_current_xact_id()"))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    client_id: Mapped[str] = mapped_column(Text)
    department: Mapped[str] = mapped_column(Text)
    user_id: Mapped[str | None] = mapped_column(Text)
    case_id: Mapped[str | None] = mapped_column(Text)
    purpose: Mapped[str | None] = mapped_column(Text)
    operation: Mapped[str] = mapped_column(Text)
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(Text)
    status: Mapped[int] = mapped_column(Integer)
    subject_uscc: Mapped[str | None] = mapped_column(String(18))
    request_id: Mapped[str] = mapped_column(Text)
    result_digest: Mapped[str] = mapped_column(Text)
    row_hash: Mapped[bytes] = mapped_column(LargeBinary)


class AuditSeal(Base):
    """Position n of the chain: chain_n = H(chain_{n-1} || row_hash of the entry sealed at n)."""

    __tablename__ = "audit_seals"

    position: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    audit_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    audit_txid: Mapped[int] = mapped_column(Xid8)
    chain_hash: Mapped[bytes] = mapped_column(LargeBinary)
    algorithm: Mapped[str] = mapped_column(Text)
    sealed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
