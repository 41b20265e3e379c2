"""Load the checks bench database: 1,000,000 units and 3,000,000 records made by set-based SQL inside
PostgreSQL, then every unit graded through the real re-grade code (the policy roll-out job).

  .venv/bin/python -m bench.checks.load --url postgresql://postgres@127.0.0.1:5432/credit_bench

Bench USCCs are `91222401` + a 9-digit number + `X`: the right shape, not a valid checksum (the check
path accepts any well-formed code; unknown ones are answered unknown).
"""

from __future__ import annotations

import argparse
import asyncio
import time

import psycopg

from services.credit.checks import jobs
from services.credit.common.types import today_in_china
from services.credit.policy.checks_model import default_checks_policy
from services.kit import migrate
from services.kit.db import make_engine, make_sessionmaker

UNITS_SQL = """
INSERT INTO credit.units (uscc, name, unit_type, fire_class, reg_status, region_code, industry_code, address,
                          content_hash, updated_by)
SELECT '91222401' || lpad(i::text, 9, '0') || 'X',
       (ARRAY['延吉市','图们市','敦化市','珲春市','龙井市','和龙市','汪清县','安图县'])[1 + i % 8]
         || '第' || i || '号商贸有限公司',
       (ARRAY['enterprise','individual_business','institution'])[1 + i % 3],
       CASE WHEN i % 20 = 0 THEN 'key_unit' WHEN i % 97 = 0 THEN 'high_risk_unit' ELSE 'general' END,
       CASE WHEN i % 50 = 0 THEN 'deregistered' ELSE 'operating' END,
       (ARRAY['222401','222402','222403','222404','222405','222406','222424','222426'])[1 + i % 8],
       'H6110', '吉林省延边朝鲜族自治州', decode('00', 'hex'), 'bench'
FROM generate_series(1, {units}) AS i
"""

RECORDS_SQL = """
INSERT INTO credit.records (id, unit_id, uscc, department, record_type, document_no, version, state, disputed,
                            severity, polarity, legal_basis, decision_date, conduct_ended_on, published,
                            publish_min_until, publish_until, query_until, policy_version, body, request_hash,
                            created_by)
SELECT gen_random_uuid(), u.id, u.uscc, 'yanbian-fire',
       CASE WHEN s.pos THEN 'positive'
            ELSE (ARRAY['administrative_penalty','administrative_penalty','administrative_penalty','fire_incident',
                        'major_hazard_unrectified','commitment_breach'])[1 + s.j % 6] END,
       'BENCH-' || s.j, 1,
       CASE WHEN s.j % 50 = 0 THEN 'withdrawn' ELSE 'active' END, s.j % 100 = 1,
       s.sev, CASE WHEN s.pos THEN 'positive' ELSE 'bad' END,
       '《中华人民共和国消防法》第六十条', s.decided, s.decided, s.j % 20 <> 3,
       s.decided + CASE WHEN s.sev = 'serious' THEN interval '1 year' ELSE interval '3 months' END,
       s.decided + CASE WHEN s.pos THEN interval '3 years' WHEN s.sev = 'serious' THEN interval '3 years'
                        ELSE interval '1 year' END,
       s.decided + interval '5 years', '2026.1',
       CASE WHEN s.pos THEN '{"details": {"kind": "commendation"}}'::jsonb
            ELSE '{"details": {"penalty_categories": ["fine"], "deaths": 0}}'::jsonb END,
       'bench', 'bench'
FROM (SELECT j, 1 + (hashint8(j) & 2147483647) % {units} AS uid, j % 10 = 0 AS pos,
             CASE WHEN j % 7 = 0 THEN 'serious' ELSE 'general' END AS sev,
             date '2022-06-01' + (hashint8(j * 7) & 2147483647) % 1640 AS decided
      FROM generate_series(1, {records}) AS j) AS s
JOIN credit.units u ON u.id = s.uid
"""


def load(url: str, units: int, records: int) -> dict[str, float]:
    timings: dict[str, float] = {}
    migrate.upgrade("credit", url)
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        have = conn.execute("SELECT count(*) FROM credit.units").fetchone()
        if have and have[0] >= units:
            return {"skipped": 1.0}
        conn.execute("ALTER TABLE credit.records DISABLE TRIGGER records_enqueue_grade")
        t = time.perf_counter()
        conn.execute(UNITS_SQL.replace("{units}", str(int(units))))  # type: ignore[arg-type]
        timings["units_s"] = round(time.perf_counter() - t, 1)
        t = time.perf_counter()
        sql = RECORDS_SQL.replace("{units}", str(int(units))).replace("{records}", str(int(records)))
        conn.execute(sql)  # type: ignore[arg-type]
        timings["records_s"] = round(time.perf_counter() - t, 1)
        conn.execute("ALTER TABLE credit.records ENABLE TRIGGER records_enqueue_grade")
        conn.execute("VACUUM ANALYZE credit.units")
        conn.execute("VACUUM ANALYZE credit.records")
    t = time.perf_counter()
    timings.update(asyncio.run(_grade(url)))
    timings["grading_s"] = round(time.perf_counter() - t, 1)
    return timings


async def _grade(url: str) -> dict[str, float]:
    engine = make_engine(url, pool_size=2)
    try:
        report = await jobs.policy_rollout(
            make_sessionmaker(engine), today_in_china(), default_checks_policy(), apply=True, actor="bench-load"
        )
    finally:
        await engine.dispose()
    return {"graded_changed": float(report["changed"])}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/credit_bench")
    parser.add_argument("--units", type=int, default=1_000_000)
    parser.add_argument("--records", type=int, default=3_000_000)
    args = parser.parse_args()
    print(load(args.url, args.units, args.records))


if __name__ == "__main__":
    main()
