"""What one running credit process holds: settings, database, keys, policy. Built once at start-up."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.credit.audit.service import AuditKeys
from services.credit.common.types import today_in_china
from services.credit.policy.model import Policy
from services.credit.settings import CreditSettings
from services.kit.auth import TokenService
from services.kit.pii import PiiProtector
from services.kit.ratelimit import RateLimiter


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class CreditContext:
    settings: CreditSettings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    tokens: TokenService
    pii: PiiProtector
    policy: Policy
    audit: AuditKeys
    limiter: RateLimiter
    expected_revision: str | None = None
    # injectable clocks: tests travel in time without patching
    today: Callable[[], dt.date] = field(default=today_in_china)
    now: Callable[[], dt.datetime] = field(default=_utc_now)
