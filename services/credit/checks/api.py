"""Every router of the credit-checks capability, for one include in the app."""

from __future__ import annotations

from fastapi import APIRouter

from services.credit.calendar.endpoints import router as calendar_router
from services.credit.checks.endpoints import router as checks_router
from services.credit.grades.endpoints import router as grades_router
from services.credit.listing.endpoints import router as listing_router
from services.credit.measures.endpoints import router as measures_router

ROUTERS: tuple[APIRouter, ...] = (
    checks_router,
    grades_router,
    listing_router,
    measures_router,
    calendar_router,
)

# scopes this capability uses (for the token/client CLI and the OpenAPI description)
SCOPES = {
    "checks:write": "Make credit checks (single and batch) and give feedback.",
    "checks:read": "Read and verify checks, statistics, measures and the calendar.",
    "checks:internal": "See internal (unpublished) records in checks.",
    "listing:read": "Read the serious list.",
    "listing:write": "Propose and decide serious-list entries.",
}
