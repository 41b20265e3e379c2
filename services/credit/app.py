"""The credit service's ASGI application."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from services.credit.audit.service import AuditKeys, AuditWriter, seal
from services.credit.changes.endpoints import router as changes_router
from services.credit.checks import repository as checks_repo
from services.credit.checks.api import ROUTERS as CHECK_ROUTERS
from services.credit.checks.endpoints import batch_check_hot, create_check_hot
from services.credit.checks.endpoints import router as checks_router
from services.credit.clients.endpoints import router as clients_router
from services.credit.clients.service import revoked_client_ids
from services.credit.common.pool import close_pool
from services.credit.context import CreditContext
from services.credit.health import router as health_router
from services.credit.policy.model import load_policy
from services.credit.records.endpoints import router as records_router
from services.credit.settings import CreditSettings
from services.credit.units.endpoints import get_unit_hot
from services.credit.units.endpoints import router as units_router
from services.credit.units.schemas import BulkUpsertIn
from services.kit.audit import AuditMiddleware
from services.kit.auth import TokenService, ensure_dev_keyset, load_keyset
from services.kit.db import make_engine, make_sessionmaker
from services.kit.docs import install_docs
from services.kit.errors import add_component_schemas, document_problems, install_problem_handlers
from services.kit.groupcommit import GroupWriter
from services.kit.hotpath import HotPath, HotRoute, find_route
from services.kit.http import OrjsonResponse, RequestContextMiddleware
from services.kit.logs import configure_logging
from services.kit.migrate import head_revision
from services.kit.pii import PiiProtector
from services.kit.ratelimit import RateLimiter

API_VERSION = "1.0.0"
HOUSEKEEPING_SECONDS = 15
_log = logging.getLogger("credit")


def resolve_database_url(settings: CreditSettings) -> str:
    if settings.database_url:
        return settings.database_url
    from services.kit.pgserver import embedded_server_url, ensure_database

    server = embedded_server_url((settings.data_dir / "pg").resolve())
    return ensure_database(server, "credit")


def build_context(settings: CreditSettings, database_url: str) -> CreditContext:
    keys = load_keyset(settings.keys_file) if settings.mode == "production" else ensure_dev_keyset(settings.keys_file)
    engine = make_engine(database_url, pool_size=settings.db_pool_size, application_name="credit")
    return CreditContext(
        settings=settings,
        engine=engine,
        sessions=make_sessionmaker(engine),
        tokens=TokenService(
            keys=keys,
            issuer=settings.issuer,
            audience=settings.audience,
            lifetime_seconds=settings.token_lifetime_seconds,
        ),
        pii=PiiProtector.from_secret(settings.pii_key),
        policy=load_policy(settings.policy_file),
        audit=AuditKeys(algorithm=settings.audit_algorithm, key=settings.audit_key.encode()),
        limiter=RateLimiter(settings.rate_limit_per_minute),
        expected_revision=head_revision("credit", database_url),
    )


async def housekeeping(app: FastAPI, ctx: CreditContext) -> None:
    """One pass: reload revoked clients and the signing key file, seal the audit trail."""
    async with ctx.sessions() as session:
        app.state.revoked_clients = await revoked_client_ids(session)
    keys_file = ctx.settings.keys_file
    if keys_file.exists() and keys_file.stat().st_mtime != getattr(app.state, "keys_mtime", None):
        app.state.keys_mtime = keys_file.stat().st_mtime
        ctx.tokens.replace_keys(load_keyset(keys_file))
    async with ctx.sessions() as session:
        await seal(session, ctx.audit)
        await session.commit()


async def _housekeeping_loop(app: FastAPI, ctx: CreditContext) -> None:
    """Revoked clients are refused, rotated keys used and audit entries sealed within
    HOUSEKEEPING_SECONDS on every replica."""
    while True:
        try:
            await housekeeping(app, ctx)
        except Exception:
            _log.warning("housekeeping pass failed", exc_info=True)
        await asyncio.sleep(HOUSEKEEPING_SECONDS)


def attach(app: FastAPI, ctx: CreditContext) -> None:
    app.state.ctx = ctx
    dsn = ctx.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    writer = AuditWriter(dsn, ctx.audit)
    app.state.audit_writer = writer
    app.state.audit_sink = writer.record
    app.state.check_writer = GroupWriter(dsn, checks_repo.insert_check_group, application_name="credit-checks-writer")


def create_app(settings: CreditSettings | None = None, *, context: CreditContext | None = None) -> FastAPI:
    """`context` lets tests hand in a ready context; otherwise it is built at start-up."""
    settings = settings or (context.settings if context else CreditSettings())

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.log_level)
        ctx = context or build_context(settings, resolve_database_url(settings))
        attach(app, ctx)
        # what start-up built lives as long as the process: keep it out of the collector's full
        # passes, which otherwise walk it all and stall every request in flight (the p99 of checks)
        gc.collect()
        gc.freeze()
        poller = asyncio.create_task(_housekeeping_loop(app, ctx))
        try:
            yield
        finally:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller
            await close_pool(app.state)
            await app.state.check_writer.close()
            await app.state.audit_writer.close()
            if context is None:
                await ctx.engine.dispose()

    app = FastAPI(
        title="Fire-safety credit service (Yanbian, Art. 26)",
        version=API_VERSION,
        summary="Units, fire-safety credit records, the change feed and credit checks.",
        lifespan=lifespan,
        default_response_class=OrjsonResponse,
        docs_url=None,
        redoc_url=None,
        # no OpenTelemetry export here (logs are JSON lines, audit is the trail); checking for it
        # on every request costs more than a unit read's own code
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    if context is not None:
        attach(app, context)
    app.state.revoked_clients = set()
    # the audit is outermost so that answers the request context gives itself (413) are audited
    # too; it reads the request id that the request context puts into the shared scope state
    if settings.hot_path:
        app.add_middleware(HotPath, routes=hot_routes())
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(AuditMiddleware, algorithm=settings.audit_algorithm)
    install_problem_handlers(app)
    install_docs(app, "Fire-safety credit service")
    for router in (health_router, clients_router, units_router, records_router, changes_router):
        app.include_router(router)
    for router in CHECK_ROUTERS:
        app.include_router(router)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def hot_routes() -> list[HotRoute]:
    """The operations that carry the traffic (docs/checks.md, figures)."""
    return [
        HotRoute("GET", "/v1/units/{uscc}", find_route(units_router.routes, "get_unit"), get_unit_hot),
        HotRoute("POST", "/v1/credit-checks", find_route(checks_router.routes, "create_check"), create_check_hot),
        HotRoute("POST", "/v1/credit-checks:batch", find_route(checks_router.routes, "batch_check"), batch_check_hot),
    ]


def _openapi(app: FastAPI) -> dict[str, object]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
    document_problems(schema)
    add_component_schemas(schema, BulkUpsertIn)
    app.openapi_schema = schema
    return schema
