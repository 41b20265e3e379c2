"""Every table of the sharing schema, imported here so alembic and the API see them all."""

from __future__ import annotations

from services.sharing.db import Base
from services.sharing.ingest.models import FeedSource, RegistryChange, RegistryUnit, SyncRun
from services.sharing.quarantine.models import QuarantinedRow
from services.sharing.survey.models import SurveyUnit

__all__ = ["Base", "FeedSource", "QuarantinedRow", "RegistryChange", "RegistryUnit", "SurveyUnit", "SyncRun"]
