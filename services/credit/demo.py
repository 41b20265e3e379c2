"""Realistic demo data: units across Yanbian's eight county-level divisions and credit records of
every type, validated by the same schemas and windowed by the same policy as live data."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import func, insert, select

from services.credit.app import build_context
from services.credit.changes.models import Change
from services.credit.records.models import Record, RecordVersion
from services.credit.records.publication import window
from services.credit.records.schemas import RecordIn
from services.credit.settings import CreditSettings
from services.credit.units.models import Unit
from services.credit.units.service import bulk_upsert
from services.kit.auth import Principal
from services.kit.ids import make_uscc, new_uuid7
from services.kit.synthetic import SyntheticUnit, YanbianGenerator

BRIGADES = {
    "222401": ("yanji-fire", "延吉市消防救援大队"),
    "222402": ("tumen-fire", "图们市消防救援大队"),
    "222403": ("dunhua-fire", "敦化市消防救援大队"),
    "222404": ("hunchun-fire", "珲春市消防救援大队"),
    "222405": ("longjing-fire", "龙井市消防救援大队"),
    "222406": ("helong-fire", "和龙市消防救援大队"),
    "222424": ("wangqing-fire", "汪清县消防救援大队"),
    "222426": ("antu-fire", "安图县消防救援大队"),
}
VIOLATIONS = [
    ("消防设施、器材未保持完好有效", "《中华人民共和国消防法》第六十条第一款第一项"),
    ("占用、堵塞、封闭疏散通道、安全出口", "《中华人民共和国消防法》第六十条第一款第三项"),
    ("埋压、圈占、遮挡消火栓", "《中华人民共和国消防法》第六十条第一款第四项"),
    ("人员密集场所门窗设置影响逃生和灭火救援的障碍物", "《中华人民共和国消防法》第六十条第一款第六项"),
    ("公众聚集场所未经消防安全检查擅自投入使用", "《中华人民共和国消防法》第五十八条第一款第四项"),
    ("不及时消除火灾隐患", "《中华人民共和国消防法》第六十条第一款第七项"),
]
_adapter: TypeAdapter[RecordIn] = TypeAdapter(RecordIn)


def _record(rng: random.Random, unit: Any, n: int, today: dt.date) -> dict[str, Any]:
    decided = today - dt.timedelta(days=rng.randint(1, 5 * 365))
    common = {"unit_uscc": unit.uscc, "decision_date": decided.isoformat(), "severity": "general"}
    brigade = BRIGADES[unit.region_code][1]
    kind = rng.random()
    if kind < 0.62:
        violation, basis = rng.choice(VIOLATIONS)
        categories = rng.choice(
            [
                ["fine"],
                ["warning"],
                ["fine", "confiscation"],
                ["production_suspended", "fine"],
                ["warning", "public_criticism"],
                ["fine"],
            ]
        )
        return {
            **common,
            "type": "administrative_penalty",
            "severity": rng.choice(["general"] * 5 + ["serious"]),
            "document_no": f"{brigade[:2]}消行罚决字〔{decided.year}〕{n:05d}号",
            "legal_basis": basis,
            "details": {
                "violation_type": violation,
                "facts": f"经监督检查发现，该单位存在{violation}的违法行为。",
                "penalty_categories": categories,
                "content": "依法予以处罚",
                "fine_amount": f"{rng.randint(5, 300) * 100}.00" if "fine" in categories else None,
                "authority_name": brigade,
                "authority_uscc": make_uscc("1", "1", unit.region_code, "FD000001"),
                "source_department": brigade,
            },
        }
    if kind < 0.70:
        deaths = rng.choice([0, 0, 0, 1, 3])
        return {
            **common,
            "type": "fire_incident",
            "severity": "serious" if deaths else "general",
            "document_no": f"{brigade[:2]}火认字〔{decided.year}〕{n:05d}号",
            "legal_basis": "《火灾事故调查规定》第二十五条",
            "details": {
                "incident_date": (decided - dt.timedelta(days=20)).isoformat(),
                "severity_class": "larger" if deaths >= 3 else "general",
                "deaths": deaths,
                "injuries": rng.randint(0, 4),
                "direct_loss_yuan": f"{rng.randint(1, 900) * 1000}.00",
                "responsibility_finding": "电气线路故障引发火灾，单位消防安全责任未落实",
            },
        }
    if kind < 0.78:
        deadline = decided - dt.timedelta(days=rng.randint(5, 60))
        return {
            **common,
            "type": "major_hazard_unrectified",
            "severity": "serious",
            "document_no": f"{brigade[:2]}消隐字〔{decided.year}〕{n:05d}号",
            "legal_basis": "《重大火灾隐患判定方法》；《延边州消防安全责任制实施办法》第九条",
            "details": {
                "notice_document_no": f"{brigade[:2]}消限字〔{decided.year}〕{n:05d}号",
                "hazard_description": "自动喷水灭火系统瘫痪，未按期整改",
                "rectification_deadline": deadline.isoformat(),
                "found_unrectified_on": (deadline + dt.timedelta(days=3)).isoformat(),
            },
        }
    if kind < 0.84:
        return {
            **common,
            "type": "commitment_breach",
            "document_no": f"{brigade[:2]}承诺违字〔{decided.year}〕{n:05d}号",
            "legal_basis": "《延边州消防安全责任制实施办法》第二十六条",
            "details": {
                "commitment_date": (decided - dt.timedelta(days=90)).isoformat(),
                "commitment_content": "公众聚集场所投入使用、营业前消防安全检查告知承诺",
                "breach_facts": "承诺内容与实际情况不符",
            },
        }
    if kind < 0.90:
        result = rng.choice(["pass", "basic_pass", "fail"])
        return {
            **common,
            "type": "fire_safety_assessment",
            "document_no": f"评估〔{decided.year}〕{n:05d}号",
            "legal_basis": "《延边州消防安全责任制实施办法》第十七条第五项",
            "details": {
                "assessment_date": decided.isoformat(),
                "result": result,
                "assessor_name": "吉林省安泰消防技术服务有限公司",
                "assessor_uscc": make_uscc("9", "1", "220100", "AT000001"),
                "report_no": f"AT-{decided.year}-{n:05d}",
            },
        }
    kinds = ["commendation", "liability_insurance", "assessment_passed"]
    return {
        **common,
        "type": "positive",
        "document_no": f"{brigade[:2]}表字〔{decided.year}〕{n:05d}号",
        "legal_basis": "《延边州消防安全责任制实施办法》第二十四条",
        "details": {"kind": rng.choice(kinds), "title": "消防安全先进单位", "granted_by": brigade},
    }


def unit_item(u: SyntheticUnit, *, fire_class: str | None = None) -> dict[str, Any]:
    """A synthetic unit as a bulk-upsert item (demo data, benches)."""
    item: dict[str, Any] = {
        "uscc": u.uscc,
        "name": u.name,
        "unit_type": u.unit_type,
        "reg_status": "operating",
        "region_code": u.region_code,
        "industry_code": u.industry_code,
        "address": u.address,
        "established_on": u.established_on.isoformat(),
        "reg_authority": u.reg_authority,
        "persons": [{"role": "legal_representative", "name": u.legal_rep_name, "citizen_id": u.legal_rep_id}],
    }
    if fire_class is not None:
        item["fire_class"] = fire_class
    return item


async def load_demo(
    settings: CreditSettings, database_url: str, *, units: int, records: int, seed: int
) -> dict[str, int]:
    ctx = build_context(settings, database_url)
    policy = ctx.policy
    today = dt.date.today()
    rng = random.Random(seed)
    try:
        async with ctx.sessions() as session:
            present = (await session.execute(select(func.count()).select_from(Unit))).scalar_one()
            if present:
                count = (await session.execute(select(func.count()).select_from(Record))).scalar_one()
                return {"units": present, "records": count}
            loader = Principal(client_id="demo-loader", department="yanbian-market", scopes=frozenset({"units:write"}))
            generated = list(YanbianGenerator(seed).units(0, units))
            items = [
                unit_item(u, fire_class=rng.choice(["general"] * 6 + ["key_unit", "key_unit", "high_risk_unit"]))
                for u in generated
            ]
            for start in range(0, len(items), 5000):
                await bulk_upsert(ctx, session, items[start : start + 5000], loader)
            ids = dict((await session.execute(select(Unit.uscc, Unit.id))).tuples().all())
            rows, versions, changes = [], [], []
            for n in range(records):
                unit = generated[rng.randrange(len(generated))]
                record = _adapter.validate_python(_record(rng, unit, n, today))
                w = window(record, policy)
                dept = BRIGADES[unit.region_code][0]
                rid = new_uuid7()
                body = record.model_dump(mode="json", exclude={"responsible_persons", "unit_uscc"})
                rows.append(
                    {
                        "id": rid,
                        "unit_id": ids[unit.uscc],
                        "uscc": unit.uscc,
                        "department": dept,
                        "record_type": record.type,
                        "document_no": record.document_no,
                        "version": 1,
                        "state": "active",
                        "severity": record.severity,
                        "polarity": w.polarity,
                        "legal_basis": record.legal_basis,
                        "decision_date": record.decision_date,
                        "conduct_ended_on": record.decision_date,
                        "published": w.published,
                        "publish_min_until": w.min_until,
                        "publish_until": w.until,
                        "query_until": w.query_until,
                        "policy_version": policy.version,
                        "body": body,
                        "created_by": "demo-loader",
                        "request_hash": f"demo-{n}",
                    }
                )
                versions.append(
                    {
                        "record_id": rid,
                        "version": 1,
                        "change_kind": "created",
                        "reason": None,
                        "snapshot": body,
                        "changed_by": "demo-loader",
                    }
                )
                changes.append(
                    {
                        "entity": "record",
                        "entity_id": str(rid),
                        "uscc": unit.uscc,
                        "operation": "created",
                        "version": 1,
                        "data": {"type": record.type},
                    }
                )
            for table, data in ((Record, rows), (RecordVersion, versions), (Change, changes)):
                for start in range(0, len(data), 5000):
                    await session.execute(insert(table), data[start : start + 5000])
            await session.commit()
            return {"units": len(generated), "records": len(rows)}
    finally:
        await ctx.engine.dispose()
