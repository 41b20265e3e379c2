"""The grade points model (信用评价) as pure functions over a unit's record facts.

Score = start − deductions of bad records inside their effect window + additions of positive records
inside theirs (capped); the first threshold reached gives A/B/C, below C gives D, and a unit on the
serious list is D whatever its score. Every grade carries the lines that produced it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from services.credit.policy.checks_model import ChecksPolicy, Grade
from services.credit.policy.model import add_duration

GRADE_LABELS: dict[str, str] = {"A": "诚信", "B": "基本诚信", "C": "失信关注", "D": "严重失信"}
SEVERITY_LABELS = {"general": "一般", "serious": "严重"}


@dataclass(frozen=True, slots=True)
class RecordFact:
    """What the model needs of one credit record (its current version)."""

    id: str
    record_type: str
    severity: str
    polarity: str
    decision_date: dt.date
    publish_until: dt.date | None
    state: str = "active"
    disputed: bool = False
    document_no: str | None = None
    kind: str | None = None  # positive records: commendation, liability_insurance, assessment_passed


@dataclass(frozen=True, slots=True)
class ListingFact:
    """An active serious-list entry of the unit (or of one of its responsible persons)."""

    id: str
    ground: str
    listed_on: dt.date
    list_until: dt.date


@dataclass(frozen=True, slots=True)
class Line:
    rule: str
    points: int
    text: str
    record_id: str | None = None
    listing_id: str | None = None
    until: dt.date | None = None
    flags: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rule": self.rule, "points": self.points, "text": self.text}
        if self.record_id:
            out["record_id"] = self.record_id
        if self.listing_id:
            out["listing_id"] = self.listing_id
        if self.until:
            out["until"] = self.until.isoformat()
        if self.flags:
            out["flags"] = list(self.flags)
        return out


@dataclass(frozen=True, slots=True)
class GradeResult:
    grade: Grade
    score: int
    lines: tuple[Line, ...]
    policy_version: str
    policy_digest: str
    evaluated_on: dt.date
    # the first day on which time alone may change this grade (a record leaves or enters its
    # window, a listing expires); the nightly run re-grades units whose day has come
    next_change_on: dt.date | None = None
    counted_records: tuple[str, ...] = field(default=())

    def explanation(self) -> dict[str, Any]:
        return {
            "grade": self.grade,
            "label": GRADE_LABELS[self.grade],
            "score": self.score,
            "evaluated_on": self.evaluated_on.isoformat(),
            "policy_version": self.policy_version,
            "policy_digest": self.policy_digest,
            "lines": [line.as_dict() for line in self.lines],
        }


def effect_until(fact: RecordFact, policy: ChecksPolicy) -> dt.date:
    """The day a record stops counting: its publication end, or for a record that is never published
    (warning only) the policy's unpublished effect period from its decision."""
    if fact.publish_until is not None:
        return fact.publish_until
    period = getattr(
        policy.grades.unpublished_effect, fact.severity if fact.severity == "serious" else "general"
    )
    return add_duration(fact.decision_date, str(period))


def counts(fact: RecordFact, policy: ChecksPolicy, today: dt.date) -> bool:
    if fact.state != "active":
        return False
    if fact.disputed and not policy.grades.count_disputed:
        return False
    return fact.decision_date <= today < effect_until(fact, policy)


def grade_for(score: int, policy: ChecksPolicy) -> Grade:
    t = policy.grades.thresholds
    if score >= t.A:
        return "A"
    if score >= t.B:
        return "B"
    if score >= t.C:
        return "C"
    return "D"


def evaluate(
    facts: Iterable[RecordFact],
    policy: ChecksPolicy,
    today: dt.date,
    listings: Sequence[ListingFact] = (),
) -> GradeResult:
    g = policy.grades
    lines: list[Line] = [Line("grades.start", g.start, f"起评分 {g.start}")]
    score = g.start
    positive_total = 0
    positive_lines: list[Line] = []
    counted: list[str] = []
    boundaries: list[dt.date] = []
    ordered = sorted(facts, key=lambda f: (f.decision_date, f.id))
    for fact in ordered:
        until = effect_until(fact, policy)
        if fact.state == "active" and fact.decision_date > today:
            boundaries.append(fact.decision_date)
        if not counts(fact, policy, today):
            continue
        boundaries.append(until)
        counted.append(fact.id)
        flags = ("disputed",) if fact.disputed else ()
        doc = f"（{fact.document_no}）" if fact.document_no else ""
        if fact.polarity == "positive":
            points, rule = g.addition(fact.record_type, fact.kind)
            positive_total += points
            positive_lines.append(
                Line(
                    rule,
                    points,
                    f"{fact.kind or fact.record_type}{doc} 加{points}分",
                    fact.id,
                    until=until,
                    flags=flags,
                )
            )
        else:
            points, rule = g.deduction(fact.record_type, fact.severity)
            score -= points
            sev = SEVERITY_LABELS.get(fact.severity, fact.severity)
            lines.append(
                Line(
                    rule,
                    -points,
                    f"{fact.record_type}（{sev}）{doc} 扣{points}分",
                    fact.id,
                    until=until,
                    flags=flags,
                )
            )
    lines.extend(positive_lines)
    if positive_total > g.positive_cap:
        lines.append(
            Line(
                "grades.positive_cap",
                g.positive_cap - positive_total,
                f"加分合计{positive_total}分，以{g.positive_cap}分为限",
            )
        )
        positive_total = g.positive_cap
    score += positive_total
    grade = grade_for(score, policy)
    t = g.thresholds
    lines.append(
        Line(
            f"grades.thresholds.{grade}" if grade != "D" else "grades.thresholds.below_C",
            0,
            f"得分{score}：A≥{t.A}，B≥{t.B}，C≥{t.C}，低于{t.C}为D → {grade} {GRADE_LABELS[grade]}",
        )
    )
    for listing in listings:
        boundaries.append(listing.list_until)
        lines.append(
            Line(
                "listing.serious_list",
                0,
                f"列入严重失信主体名单（{listing.ground}），评为D",
                listing_id=listing.id,
                until=listing.list_until,
            )
        )
    if listings:
        grade = "D"
    future = [b for b in boundaries if b > today]
    return GradeResult(
        grade=grade,
        score=score,
        lines=tuple(lines),
        policy_version=policy.version,
        policy_digest=policy.digest,
        evaluated_on=today,
        next_change_on=min(future) if future else None,
        counted_records=tuple(counted),
    )
