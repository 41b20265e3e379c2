from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field


class SyncRunOut(BaseModel):
    """One ingest run's report."""

    id: int
    source: str
    kind: str = Field(json_schema_extra={"x-extensible-enum": ["full", "delta", "replay", "forward"]})
    transport: str
    location: str
    sequence: int | None
    base_sequence: int | None
    declared_count: int | None
    encoding: str | None
    status: str = Field(json_schema_extra={"x-extensible-enum": [
        "running", "succeeded", "refused", "failed", "skipped", "delta_gap", "forward_pending", "abandoned"]})
    phase: str
    forced: bool
    started_at: dt.datetime
    finished_at: dt.datetime | None
    rows_read: int
    blank_lines: int
    staged: int
    quarantined: int
    new: int
    changed: int
    status_changed: int
    unchanged: int
    absent: int
    forwarded: int
    forward_rejected: int
    forward_pending: int
    survey_listed: int
    rejects: dict[str, int] = Field(description="Quarantined rows by reason.")
    guard: dict[str, Any] | None = Field(description="What the safety guard measured and decided.")
    timings: dict[str, Any] = Field(description="Seconds per phase, total seconds and rows per second.")
    message: str | None


class SyncRunPage(BaseModel):
    items: list[SyncRunOut]
    next_cursor: str | None = Field(description="Opaque; pass as `cursor` for the next page. Null on the last.")
    as_of: dt.datetime
