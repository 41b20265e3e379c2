"""The sharing service's ASGI application: ingest reports and the list of units to survey."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from services.kit.db import make_engine, make_sessionmaker
from services.kit.errors import install_problem_handlers
from services.kit.http import OrjsonResponse, RequestContextMiddleware
from services.kit.logs import configure_logging
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
        engine = make_engine(database_url or resolve_database_url(settings), application_name="sharing")
        app.state.sessions = make_sessionmaker(engine)
        app.state.tokens = verifier or JwksVerifier(
            jwks_url=settings.credit_url.rstrip("/") + "/v1/oauth/jwks", issuer=settings.token_issuer,
            audience=settings.token_audience)
        try:
            yield
        finally:
            await engine.dispose()

    app = FastAPI(title="fire-safety credit: sharing", version=API_VERSION, lifespan=lifespan,
                  default_response_class=OrjsonResponse,
                  description="Data exchange: registration feed ingest reports (`/v1/sync-runs`) and the "
                              "daily list of units to survey (`/v1/survey-units`). Errors are problem+json.")
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes)
    install_problem_handlers(app)
    app.include_router(runs_router)
    app.include_router(survey_router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
