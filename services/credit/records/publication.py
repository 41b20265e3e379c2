"""Publication windows from the policy file (brief §3). Pure functions of a record and a policy."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from services.credit.policy.model import Policy, add_duration
from services.credit.records.schemas import AssessmentIn, ExternalListIn, PenaltyIn, PositiveIn, RecordIn


@dataclass(frozen=True, slots=True)
class Window:
    polarity: str
    published: bool
    min_until: dt.date | None
    until: dt.date | None
    query_until: dt.date | None


def polarity_of(record: RecordIn) -> str:
    if isinstance(record, PositiveIn):
        return "positive"
    if isinstance(record, AssessmentIn):
        return "bad" if record.details.result == "fail" else "positive"
    if isinstance(record, ExternalListIn):
        return "positive" if record.details.list_kind == "red_list" else "bad"
    return "bad"


def window(record: RecordIn, policy: Policy) -> Window:
    pub = policy.publication
    start = record.decision_date
    conduct_end = record.conduct_ended_on or record.decision_date
    polarity = polarity_of(record)
    if polarity == "positive":
        rule = pub.assessment.max if isinstance(record, AssessmentIn) else pub.positive.max
        until = add_duration(start, rule)
        if isinstance(record, PositiveIn) and record.details.valid_until:
            until = min(until, record.details.valid_until)
        return Window(polarity, True, None, until, None)
    query_until = add_duration(conduct_end, pub.query_horizon)
    if isinstance(record, ExternalListIn):
        # the listing department decides the period; without one, the serious maximum applies
        until = record.details.listed_until or add_duration(record.details.listed_on, pub.serious.max)
        return Window(polarity, True, None, until, query_until)
    if isinstance(record, AssessmentIn):
        return Window(polarity, True, None, add_duration(start, pub.assessment.max), query_until)
    periods = [pub.serious if record.severity == "serious" else pub.general]
    if isinstance(record, PenaltyIn):
        categories = set(record.details.penalty_categories)
        if categories <= set(pub.unpublished_penalty_categories):
            return Window(polarity, False, None, None, query_until)
        if categories & set(pub.serious_period_penalty_categories):
            periods.append(pub.serious)
    # several penalty types in one decision: the longest period applies
    min_until = max(add_duration(start, p.min) for p in periods)
    until = max(add_duration(start, p.max) for p in periods)
    return Window(polarity, True, min_until, until, query_until)


def status(*, state: str, published: bool, until: dt.date | None, today: dt.date) -> str:
    if state == "withdrawn":
        return "withdrawn"
    if not published:
        return "internal_only"
    if until is not None and today >= until:
        return "publication_ended"
    return "public"
