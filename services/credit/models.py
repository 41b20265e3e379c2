"""Every ORM model of credit, imported once so alembic and the tests see the whole metadata."""

from services.credit.changes.models import Change
from services.credit.clients.models import Client
from services.credit.db import Base
from services.credit.records.models import IdempotencyKey, Record, RecordPerson, RecordVersion
from services.credit.units.models import Unit, UnitPerson

__all__ = ["Base", "Change", "Client", "IdempotencyKey", "Record", "RecordPerson", "RecordVersion", "Unit", "UnitPerson"]
