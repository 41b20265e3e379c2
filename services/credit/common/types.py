"""Validated field types shared by credit's schemas."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

from services.kit.ids import citizen_id_problem, normalise_code, uscc_problem

CHINA_TZ = ZoneInfo("Asia/Shanghai")


def today_in_china() -> dt.date:
    """Legal dates are calendar dates in China Standard Time (brief §5)."""
    return dt.datetime.now(CHINA_TZ).date()


def _normalise(value: object) -> object:
    return normalise_code(value) if isinstance(value, str) else value


def _strict_uscc(value: str) -> str:
    problem = uscc_problem(value)
    if problem:
        raise ValueError(f"not a valid USCC: {problem.reason}")
    return value


def _checked_citizen_id(value: str) -> str:
    problem = citizen_id_problem(value)
    if problem:
        raise ValueError(f"not a valid citizen id: {problem.reason}")
    return value


# the database driver reads the calendar's first and last days as -infinity / infinity: keep legal
# dates well inside a plausible range
EARLIEST_DATE = dt.date(1800, 1, 1)
LATEST_DATE = dt.date(2199, 12, 31)


def _plausible(value: dt.date) -> dt.date:
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise ValueError(f"date must lie between {EARLIEST_DATE} and {LATEST_DATE}")
    return value


def _not_future(value: dt.date) -> dt.date:
    _plausible(value)
    if value > today_in_china():
        raise ValueError("date lies in the future (China Standard Time)")
    return value


_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _clean_text(value: object) -> object:
    if isinstance(value, str):
        value = value.strip()
        if _CONTROL_CHARS.search(value):
            raise ValueError("control characters are not allowed")
    return value


# A USCC shape only (checksum checked by the service, which may allow an audited override).
UsccShape = Annotated[
    str, BeforeValidator(_normalise), StringConstraints(min_length=18, max_length=18, pattern=r"^[0-9A-Z]{18}$")
]
Uscc = Annotated[UsccShape, AfterValidator(_strict_uscc)]
CitizenId = Annotated[
    str,
    BeforeValidator(_normalise),
    StringConstraints(min_length=18, max_length=18),
    AfterValidator(_checked_citizen_id),
]
PastDate = Annotated[dt.date, AfterValidator(_not_future)]
LegalDate = Annotated[dt.date, AfterValidator(_plausible)]
RegionCode = Annotated[str, StringConstraints(pattern=r"^\d{6}$")]
IndustryCode = Annotated[str, StringConstraints(pattern=r"^[A-T](\d{2,4})?$")]


Name = Annotated[str, BeforeValidator(_clean_text), StringConstraints(min_length=1, max_length=200)]
ShortText = Annotated[str, BeforeValidator(_clean_text), StringConstraints(min_length=1, max_length=500)]
LongText = Annotated[str, BeforeValidator(_clean_text), StringConstraints(min_length=1, max_length=10_000)]
DocumentNo = Annotated[str, BeforeValidator(_clean_text), StringConstraints(min_length=1, max_length=100)]
Money = Annotated[Decimal, Field(ge=0, le=Decimal("1e13"), max_digits=16, decimal_places=2)]
