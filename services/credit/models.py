"""Every ORM model of credit, imported once so alembic and the tests see the whole metadata."""

from services.credit.audit.models import AuditEntry, AuditSeal
from services.credit.calendar.models import CalendarDay, CalendarYear
from services.credit.changes.models import Change
from services.credit.checks.models import Check, CheckFeedback
from services.credit.clients.models import Client
from services.credit.db import Base
from services.credit.grades.models import GradeHistory, GradeQueue, UnitGrade
from services.credit.listing.models import Listing, ListingEvent, ListingNotice
from services.credit.records.models import IdempotencyKey, Record, RecordPerson, RecordVersion
from services.credit.units.models import Unit, UnitPerson

__all__ = [
    "AuditEntry",
    "AuditSeal",
    "Base",
    "CalendarDay",
    "CalendarYear",
    "Change",
    "Check",
    "CheckFeedback",
    "Client",
    "GradeHistory",
    "GradeQueue",
    "IdempotencyKey",
    "Listing",
    "ListingEvent",
    "ListingNotice",
    "Record",
    "RecordPerson",
    "RecordVersion",
    "Unit",
    "UnitGrade",
    "UnitPerson",
]
