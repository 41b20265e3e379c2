from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from services.kit.ids import make_uscc
from tests.credit.factories import citizen_id

_doc = itertools.count(1)
AUTHORITY_USCC = make_uscc("1", "1", "222401", "01234567")


def penalty(uscc: str, **overrides: Any) -> dict[str, Any]:
    decision = overrides.pop("decision_date", (dt.date.today() - dt.timedelta(days=30)).isoformat())
    details = {
        "violation_type": "消防设施、器材未保持完好有效",
        "facts": "经检查，该单位室内消火栓无水，火灾自动报警系统处于故障状态。",
        "penalty_categories": ["fine"],
        "content": "罚款人民币伍仟元整",
        "fine_amount": "5000.00",
        "authority_name": "延吉市消防救援大队",
        "authority_uscc": AUTHORITY_USCC,
        "source_department": "延吉市消防救援大队",
    }
    details.update(overrides.pop("details", {}))
    body: dict[str, Any] = {
        "type": "administrative_penalty",
        "unit_uscc": uscc,
        "document_no": f"延市消行罚决字〔2026〕{next(_doc):04d}号",
        "decision_date": decision,
        "severity": "general",
        "legal_basis": "《中华人民共和国消防法》第六十条第一款第一项",
        "details": details,
        "responsible_persons": [{"role": "legal_representative", "name": "金哲洙", "citizen_id": citizen_id()}],
    }
    body.update(overrides)
    return body
