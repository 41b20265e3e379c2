"""sharing's own schema and metadata: alembic sees exactly this one."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from services.kit.db import service_metadata

SCHEMA = "sharing"


class Base(DeclarativeBase):
    metadata = service_metadata(SCHEMA)
