"""Grading rules: re-grade units from their records and listings, keep history, feed changes.

`regrade_units` is what a record writer calls in its own transaction (the trigger on records has also
queued the unit, and this call empties that entry); `drain_queue` re-grades whatever a writer left;
`nightly` re-grades the units whose grade time alone changes; `policy_rollout` counts, then applies,
the moves a new policy causes.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from services.credit.grades import repository as repo
from services.credit.grades.model import GradeResult, ListingFact, RecordFact, evaluate
from services.credit.policy.checks_model import ChecksPolicy

CHUNK = 2000


@dataclass
class RegradeReport:
    evaluated: int = 0
    changed: int = 0
    moves: Counter[str] = field(default_factory=Counter)

    def add(self, other: RegradeReport) -> None:
        self.evaluated += other.evaluated
        self.changed += other.changed
        self.moves.update(other.moves)

    def as_dict(self) -> dict[str, Any]:
        return {
            "evaluated": self.evaluated,
            "changed": self.changed,
            "moves": dict(sorted(self.moves.items())),
        }


def _fact(r: Any) -> RecordFact:
    return RecordFact(
        id=r.id,
        record_type=r.record_type,
        severity=r.severity,
        polarity=r.polarity,
        decision_date=r.decision_date,
        publish_until=r.publish_until,
        state=r.state,
        disputed=r.disputed,
        document_no=r.document_no,
        kind=r.kind,
    )


async def evaluate_units(
    session: AsyncSession, unit_ids: Sequence[int], policy: ChecksPolicy, today: dt.date
) -> dict[int, GradeResult]:
    facts: dict[int, list[RecordFact]] = defaultdict(list)
    for r in await repo.record_facts(session, unit_ids):
        facts[r.unit_id].append(_fact(r))
    listings: dict[int, list[ListingFact]] = defaultdict(list)
    for r in await repo.active_listings(session, unit_ids, today):
        listings[r.unit_id].append(ListingFact(r.id, r.ground, r.listed_on, r.list_until))
    return {u: evaluate(facts.get(u, []), policy, today, listings.get(u, [])) for u in unit_ids}


def _same(old: Any, new: GradeResult) -> bool:
    if old.grade is None:
        return False
    prev = old.explanation or {}
    return bool(
        old.grade == new.grade
        and old.score == new.score
        and prev.get("lines") == orjson.loads(orjson.dumps(new.explanation()["lines"]))
        and prev.get("policy_version") == new.policy_version
    )


async def regrade_units(
    session: AsyncSession,
    unit_ids: Sequence[int],
    *,
    policy: ChecksPolicy,
    today: dt.date,
    reason: str,
    actor: str,
    dry_run: bool = False,
) -> RegradeReport:
    """Re-grade these units now, in the caller's transaction (flush only, never commit)."""
    report = RegradeReport()
    ids = sorted(set(unit_ids))
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        current = await repo.current_rows(session, chunk, lock=not dry_run)
        results = await evaluate_units(session, chunk, policy, today)
        upserts, touches, history, feed = [], [], [], []
        for row in current:
            new = results[row.unit_id]
            report.evaluated += 1
            previous = row.grade or "A"  # never graded: a unit without records has always been A
            if row.grade is not None and _same(row, new):
                touches.append(
                    {"unit_id": row.unit_id, "evaluated_on": today, "next_change_on": new.next_change_on}
                )
                continue
            if (
                row.grade is None
                and new.grade == "A"
                and not new.counted_records
                and new.score == policy.grades.start
            ):
                continue  # nothing to keep for a unit that has nothing: it grades A on the fly
            report.changed += 1
            if previous != new.grade:
                report.moves[f"{previous}->{new.grade}"] += 1
            version = (row.version or 0) + 1
            explanation = new.explanation()
            payload = orjson.dumps(explanation).decode()
            upserts.append(
                {
                    "unit_id": row.unit_id,
                    "uscc": row.uscc,
                    "grade": new.grade,
                    "score": new.score,
                    "explanation": payload,
                    "policy_version": new.policy_version,
                    "evaluated_on": today,
                    "next_change_on": new.next_change_on,
                    "version": version,
                }
            )
            history.append(
                {
                    "unit_id": row.unit_id,
                    "uscc": row.uscc,
                    "grade": new.grade,
                    "previous_grade": row.grade,
                    "score": new.score,
                    "explanation": payload,
                    "policy_version": new.policy_version,
                    "evaluated_on": today,
                    "reason": reason,
                    "actor": actor,
                }
            )
            feed.append(
                {
                    "entity": "grade",
                    "entity_id": row.uscc,
                    "uscc": row.uscc,
                    "operation": "regraded",
                    "version": version,
                    "data": {
                        "grade": new.grade,
                        "previous_grade": row.grade,
                        "score": new.score,
                        "policy_version": new.policy_version,
                        "evaluated_on": today.isoformat(),
                        "reason": reason,
                    },
                }
            )
        if dry_run:
            continue
        await repo.upsert_grades(session, upserts)
        await repo.touch_grades(session, touches)
        await repo.add_history(session, history)
        await repo.feed(session, feed)
        await repo.dequeue(session, chunk)
    return report


async def drain_queue(
    session: AsyncSession, *, policy: ChecksPolicy, today: dt.date, limit: int = CHUNK
) -> RegradeReport:
    ids = await repo.claim_queue(session, limit)
    return await regrade_units(
        session, ids, policy=policy, today=today, reason="record_changed", actor="queue"
    )


async def nightly_batch(
    session: AsyncSession, *, policy: ChecksPolicy, today: dt.date, after_id: int = 0
) -> tuple[RegradeReport, int | None]:
    """One batch of the nightly re-evaluation; returns the cursor for the next batch (None: done)."""
    ids = await repo.due_units(session, today, after_id, CHUNK)
    if not ids:
        return RegradeReport(), None
    report = await regrade_units(session, ids, policy=policy, today=today, reason="time", actor="nightly")
    return report, ids[-1]


async def policy_batch(
    session: AsyncSession, *, policy: ChecksPolicy, today: dt.date, after_id: int, dry_run: bool, actor: str
) -> tuple[RegradeReport, int | None]:
    """One batch of a policy roll-out over every unit that has something to grade."""
    ids = await repo.units_with_facts(session, after_id, CHUNK)
    if not ids:
        return RegradeReport(), None
    report = await regrade_units(
        session,
        ids,
        policy=policy,
        today=today,
        reason=f"policy:{policy.version}",
        actor=actor,
        dry_run=dry_run,
    )
    return report, ids[-1]
