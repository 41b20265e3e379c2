from __future__ import annotations

import datetime as dt

from sqlalchemy import ARRAY, Boolean, DateTime, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from services.credit.db import Base


class Client(Base):
    """An API client (another government system, a bank regulator, sharing's sync job)."""

    __tablename__ = "clients"

    client_id: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    department: Mapped[str] = mapped_column(Text)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(Text))
    secret_hash: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
