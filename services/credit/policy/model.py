"""The versioned policy file: loaded and validated once at start-up; a broken file stops the service."""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import pathlib
import re
import tomllib
from functools import cache
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

DEFAULT_POLICY_FILE = pathlib.Path(__file__).with_name("default.toml")
_DURATION = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?$")


def _check_duration(value: str) -> str:
    if not _DURATION.match(value) or value == "P":
        raise ValueError(f"{value!r} is not a duration like P3M, P1Y or P30D")
    return value


Duration = Annotated[str, AfterValidator(_check_duration)]


def add_duration(start: dt.date, duration: str) -> dt.date:
    """Calendar arithmetic: P3M from 31 Jan ends on 30 Apr (month-end clamps, as legal periods do)."""
    m = _DURATION.match(duration)
    assert m is not None
    years, months, days = (int(g or 0) for g in m.groups())
    total_months = start.month - 1 + months + 12 * years
    year, month = start.year + total_months // 12, total_months % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return dt.date(year, month, day) + dt.timedelta(days=days)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Period(_Strict):
    min: Duration
    max: Duration


class MaxOnly(_Strict):
    max: Duration


class Publication(_Strict):
    general: Period
    serious: Period
    unpublished_penalty_categories: list[str]
    serious_period_penalty_categories: list[str]
    repair_forbidden_penalty_categories: list[str]
    query_horizon: Duration
    positive: MaxOnly
    assessment: MaxOnly


class WorkingDayRule(_Strict):
    decision_working_days: int = Field(ge=1, le=60)


class Repair(WorkingDayRule):
    platform_delivery_working_days: int = Field(ge=1, le=60)


class Policy(_Strict):
    version: str = Field(min_length=1)
    timezone: str
    publication: Publication
    objection: WorkingDayRule
    repair: Repair
    # fingerprint of the file's bytes, so two files claiming one version are told apart
    digest: str = ""


def load_policy(path: pathlib.Path = DEFAULT_POLICY_FILE) -> Policy:
    raw = path.read_bytes()
    data = tomllib.loads(raw.decode("utf-8"))
    data["digest"] = hashlib.sha256(raw).hexdigest()[:16]
    return Policy.model_validate(data)


@cache
def default_policy() -> Policy:
    return load_policy()
