"""Valid test data built from the identifier rules themselves, never from hard-coded samples."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from services.kit.ids import USCC_CHARSET, make_citizen_id, make_uscc

_serial = itertools.count(1)


def new_uscc(region: str = "222401") -> str:
    n = next(_serial)
    body = "".join(USCC_CHARSET[(n // 31**i) % 31] for i in range(8))[::-1]
    return make_uscc("9", "1", region, body)


def citizen_id(serial: int = 123, born: dt.date = dt.date(1980, 5, 17), region: str = "222401") -> str:
    return make_citizen_id(region, born, serial)


def unit_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "uscc": new_uscc(),
        "name": "延吉市长白山大酒店有限公司",
        "unit_type": "enterprise",
        "fire_class": "key_unit",
        "reg_status": "operating",
        "reg_authority": "延吉市市场监督管理局",
        "region_code": "222401",
        "industry_code": "H6110",
        "address": "吉林省延边朝鲜族自治州延吉市光明街88号",
        "established_on": "2008-03-14",
        "persons": [{"role": "legal_representative", "name": "金哲洙", "citizen_id": citizen_id()}],
    }
    body.update(overrides)
    return body
