"""Jobs of the credit-checks capability, coordinated through PostgreSQL (advisory lock, SKIP LOCKED):

    python -m services.credit.checks.jobs nightly [--today 2026-12-01]
    python -m services.credit.checks.jobs drain
    python -m services.credit.checks.jobs policy --file new-checks.toml            # dry run: counts moves
    python -m services.credit.checks.jobs policy --file new-checks.toml --apply    # re-grades every unit

Each batch commits on its own, so a killed run loses nothing and a re-run picks up where it stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import pathlib
import sys
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.credit.common.types import today_in_china
from services.credit.grades import hooks
from services.credit.grades import repository as grades_repo
from services.credit.grades.model import evaluate
from services.credit.grades.service import RegradeReport, nightly_batch, policy_batch
from services.credit.listing.service import expire_due
from services.credit.policy.checks_model import ChecksPolicy, default_checks_policy, load_checks_policy
from services.kit.db import make_engine, make_sessionmaker

LOCK_KEY = 0x63726564  # one nightly / policy run at a time across replicas


async def _locked(factory: async_sessionmaker[AsyncSession]) -> AsyncSession | None:
    holder = factory()
    got = (await holder.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY})).scalar_one()
    if not got:
        await holder.close()
        return None
    await holder.commit()  # session-level lock survives the commit; the connection stays checked out
    return holder


async def nightly(factory: async_sessionmaker[AsyncSession], today: dt.date, policy: ChecksPolicy) -> dict[str, Any]:
    expired = 0
    while True:
        async with factory() as s, s.begin():
            n = await expire_due(s, policy=policy, today=today, limit=500)
        expired += n
        if n < 500:
            break
    total = RegradeReport()
    while True:
        async with factory() as s, s.begin():
            report = await hooks.drain(s, today=today, policy=policy)
        total.add(report)
        if report.evaluated == 0:
            break
    after: int | None = 0
    while after is not None:
        async with factory() as s, s.begin():
            report, after = await nightly_batch(s, policy=policy, today=today, after_id=after)
        total.add(report)
    return {"today": today.isoformat(), "listings_expired": expired, **total.as_dict()}


async def policy_rollout(
    factory: async_sessionmaker[AsyncSession],
    today: dt.date,
    policy: ChecksPolicy,
    *,
    apply: bool,
    actor: str,
) -> dict[str, Any]:
    total = RegradeReport()
    after: int | None = 0
    while after is not None:
        async with factory() as s:
            report, after = await policy_batch(
                s, policy=policy, today=today, after_id=after, dry_run=not apply, actor=actor
            )
            await (s.commit() if apply else s.rollback())
        total.add(report)
    async with factory() as s:
        units = await grades_repo.count_units(s)
        with_facts = await grades_repo.count_units_with_facts(s)
    empty = units - int(with_facts)
    empty_grade = evaluate([], policy, today).grade
    if empty_grade != "A" and empty:
        total.moves[f"A->{empty_grade}"] += empty
    return {
        "policy_version": policy.version,
        "policy_digest": policy.digest,
        "applied": apply,
        "units": units,
        "units_without_records": empty,
        "units_without_records_grade": empty_grade,
        **total.as_dict(),
    }


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    from services.credit.app import resolve_database_url
    from services.credit.settings import CreditSettings

    engine = make_engine(resolve_database_url(CreditSettings()), pool_size=2, application_name="credit-jobs")
    factory = make_sessionmaker(engine)
    today = dt.date.fromisoformat(args.today) if args.today else today_in_china()
    try:
        holder = await _locked(factory) if args.command in ("nightly", "policy") else None
        if args.command in ("nightly", "policy") and holder is None:
            return {"error": "another nightly or policy run holds the lock"}
        try:
            if args.command == "nightly":
                return await nightly(factory, today, default_checks_policy())
            if args.command == "drain":
                async with factory() as s, s.begin():
                    return (await hooks.drain(s, today=today, limit=100_000)).as_dict()
            policy = load_checks_policy(pathlib.Path(args.file))
            return await policy_rollout(factory, today, policy, apply=args.apply, actor=args.actor)
        finally:
            if holder is not None:
                await holder.close()
    finally:
        await engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="credit jobs", description="Scheduled work of the credit service.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_ in (
        ("nightly", "expire listings, drain the re-grade queue, re-grade units whose day came"),
        ("drain", "re-grade units whose records changed and are still queued"),
    ):
        p = sub.add_parser(name, help=help_)
        p.add_argument("--today", help="evaluation day (default: today in China Standard Time)")
    pol = sub.add_parser("policy", help="count (dry run) or apply the grade moves a new checks policy causes")
    pol.add_argument("--file", required=True, help="the new checks policy TOML")
    pol.add_argument("--apply", action="store_true", help="apply it (default: dry run)")
    pol.add_argument("--actor", default="policy-rollout", help="who applies it (audited in grade history)")
    pol.add_argument("--today")
    args = parser.parse_args(argv)
    result = asyncio.run(_run(args))
    sys.stdout.write(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 1 if "error" in result else 0


if __name__ == "__main__":
    raise SystemExit(main())
