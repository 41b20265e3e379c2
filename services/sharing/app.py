"""The sharing service's ASGI application: ingest reports and the list of units to survey."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from sqlalchemy import text

from services.kit.db import make_engine, make_sessionmaker
from services.kit.docs import install_docs
from services.kit.errors import ProblemError, install_problem_handlers
from services.kit.http import OrjsonResponse, RequestContextMiddleware
from services.kit.logs import configure_logging
from services.kit.migrate import head_revision
from services.sharing.auth import JwksVerifier
from services.sharing.ingest.endpoints import router as runs_router
from services.sharing.settings import SharingSettings, resolve_database_url
from services.sharing.survey.endpoints import router as survey_router

API_VERSION = "1.0.0"


def create_app(settings: SharingSettings | None = None, *, database_url: str | None = None,
               verifier: JwksVerifier | None = None) -> FastAPI:
    settings = settings or SharingSettings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.log_level)
        url = database_url or resolve_database_url(settings)
        engine = make_engine(url, application_name="sharing")
        app.state.expected_revision = head_revision("sharing", url)
        app.state.sessions = make_sessionmaker(engine)
        app.state.tokens = verifier or JwksVerifier(
            jwks_url=settings.credit_url.rstrip("/") + "/v1/oauth/jwks", issuer=settings.token_issuer,
            audience=settings.token_audience)
        try:
            yield
        finally:
            await engine.dispose()

    app = FastAPI(title="fire-safety credit: sharing", version=API_VERSION, lifespan=lifespan,
                  default_response_class=OrjsonResponse, docs_url=None, redoc_url=None,
                  description="Data exchange: registration feed ingest reports (`/v1/sync-runs`) and the "
                              "daily list of units to survey (`/v1/survey-units`). Errors are problem+json.")
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes)
    install_problem_handlers(app)
    install_docs(app, "fire-safety credit: sharing")
    app.include_router(runs_router)
    app.include_router(survey_router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> OrjsonResponse:
        """Ready when the database answers and sharing's schema is at the head of its chain."""
        try:
            async with app.state.sessions() as session:
                current = (await session.execute(text("SELECT version_num FROM sharing.alembic_version"))).scalar()
        except Exception as exc:
            raise ProblemError(503, "database_unavailable", f"database not reachable: {type(exc).__name__}") from exc
        if current != app.state.expected_revision:
            raise ProblemError(503, "migrations_pending",
                               f"database at {current}, code expects {app.state.expected_revision}")
        return OrjsonResponse({"status": "ready", "migration": current})

    return app
