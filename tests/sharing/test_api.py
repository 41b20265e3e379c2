"""sharing's API: run reports and units to survey, with tokens verified like credit's."""

from __future__ import annotations

import pathlib
from collections.abc import Callable

import httpx
from joserfc.jwk import KeySet

from services.kit.auth import TokenService, generate_key
from services.sharing.app import create_app
from services.sharing.auth import JwksVerifier
from services.sharing.contracts import main as contracts_main
from services.sharing.ingest.service import IngestJob, IngestOptions
from services.sharing.settings import SharingSettings
from services.sharing.simulator.generate import Registry, write_feed
from tests.sharing.conftest import spec_for

ISSUER, AUDIENCE = "https://credit.fire.yanbian.gov.cn", "fire-credit"


def verifier_and_tokens() -> tuple[JwksVerifier, TokenService]:
    keys = KeySet([generate_key()])
    issuer = TokenService(keys=keys, issuer=ISSUER, audience=AUDIENCE)
    jwks = issuer.public_jwks()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=dict(jwks))

    return JwksVerifier(jwks_url="http://credit/v1/oauth/jwks", issuer=ISSUER, audience=AUDIENCE,
                        transport=httpx.MockTransport(handler)), issuer


async def test_runs_and_survey_units(sharing_db: str, tmp_path: pathlib.Path,
                                     make_job: Callable[..., IngestJob]) -> None:
    reg = Registry(seed=8, size=1500, change_rate=0.1)
    full, delta = tmp_path / "f.csv", tmp_path / "d.csv"
    write_feed(full, reg.full(0), kind="full", sequence=0)
    write_feed(delta, reg.delta(1), kind="delta", sequence=1, base_sequence=0)
    job = make_job(sharing_db)
    job.run(spec_for(full), IngestOptions(forward=False))
    d1 = job.run(spec_for(delta), IngestOptions(forward=False))
    verifier, issuer = verifier_and_tokens()
    app = create_app(SharingSettings(database_url=sharing_db), database_url=sharing_db, verifier=verifier)
    token, _ = issuer.issue(client_id="fire-rescue", department="yanbian-fire", scopes=["sync:read", "survey:read"])
    weak, _ = issuer.issue(client_id="bank", department="pbc", scopes=["units:read"])
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sharing") as client:
            auth = {"Authorization": f"Bearer {token}"}
            assert (await client.get("/v1/sync-runs")).status_code == 401
            denied = await client.get("/v1/sync-runs", headers={"Authorization": f"Bearer {weak}"})
            assert denied.status_code == 403
            assert denied.headers["content-type"] == "application/problem+json"
            page = (await client.get("/v1/sync-runs?limit=1", headers=auth)).json()
            assert page["items"][0]["id"] == d1["id"]
            assert page["next_cursor"]
            assert page["as_of"]
            rest = (await client.get(f"/v1/sync-runs?cursor={page['next_cursor']}", headers=auth)).json()
            assert rest["items"][0]["kind"] == "full"
            assert rest["next_cursor"] is None
            one = (await client.get(f"/v1/sync-runs/{d1['id']}", headers=auth)).json()
            assert one["new"] == d1["new"]
            assert "stage_s" in one["timings"]
            missing = await client.get("/v1/sync-runs/999999", headers=auth)
            assert missing.status_code == 404
            assert missing.json()["code"] == "run_not_found"
            bad = await client.get("/v1/sync-runs?cursor=zzz", headers=auth)
            assert bad.status_code == 400
            assert bad.json()["errors"][0]["field"] == "query.cursor"
            listed_on = d1["started_at"].astimezone(__import__("zoneinfo").ZoneInfo("Asia/Shanghai")).date()
            survey = (await client.get(f"/v1/survey-units?listed_on={listed_on}", headers=auth)).json()
            assert survey["items"]
            assert {i["reason"] for i in survey["items"]} <= {"new", "repurposed"}
            bad_day = await client.get("/v1/survey-units?listed_on=yesterday", headers=auth)
            assert bad_day.status_code == 422


def test_contracts_are_current() -> None:
    import sys

    argv, sys.argv = sys.argv, ["contracts", "--check"]
    try:
        assert contracts_main() == 0
    finally:
        sys.argv = argv


async def test_ready_only_at_the_migration_head_and_docs_served_locally(sharing_db: str) -> None:
    verifier, _ = verifier_and_tokens()
    app = create_app(SharingSettings(database_url=sharing_db), database_url=sharing_db, verifier=verifier)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://s") as client:
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["migration"] == app.state.expected_revision
        app.state.expected_revision = "a-revision-not-yet-applied"
        pending = await client.get("/readyz")
        assert pending.status_code == 503
        assert pending.json()["code"] == "migrations_pending"
        docs = await client.get("/docs")
        assert "/docs-assets/swagger-ui-bundle.js" in docs.text
