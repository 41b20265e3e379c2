"""sharing fixtures: its own database per test module (real PostgreSQL), migrated with its chain."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Callable, Iterator

import pytest

from services.kit import pgserver
from services.kit.migrate import upgrade
from services.kit.pii import PiiProtector
from services.sharing.credit_api.client import CreditClient
from services.sharing.feeds.mapping import load_mapping
from services.sharing.feeds.readers import read_manifest
from services.sharing.ingest.service import FeedSpec, IngestJob
from services.sharing.policy import SharingPolicy, load_policy
from services.sharing.settings import DEFAULT_POLICY_FILE

PII = PiiProtector.from_secret("sharing-tests-pii-key-0123456789abcdef")


@pytest.fixture
def sharing_db(pg_server_url: str, request: pytest.FixtureRequest) -> Iterator[str]:
    name = f"sharing_t_{os.getpid()}_{abs(hash(request.node.nodeid)) % 10**8}"
    url = pgserver.ensure_database(pg_server_url, name, recreate=True)
    upgrade("sharing", url)
    yield url
    import psycopg

    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute("select pg_terminate_backend(pid) from pg_stat_activity where datname = %s "
                     "and pid <> pg_backend_pid()", (name,))
        conn.execute(f'drop database if exists "{name}"')


@pytest.fixture
def policy() -> SharingPolicy:
    return load_policy(DEFAULT_POLICY_FILE)


@pytest.fixture
def make_job(policy: SharingPolicy) -> Callable[..., IngestJob]:
    def make(url: str, credit: CreditClient | None = None, **kwargs: object) -> IngestJob:
        return IngestJob(database_url=url, policy=policy, pii=PII, credit=credit, **kwargs)  # type: ignore[arg-type]

    return make


def spec_for(path: pathlib.Path, source: str = "samr", mapping: str = "samr") -> FeedSpec:
    manifest = read_manifest(path)
    assert manifest is not None
    return FeedSpec(source=source, mapping=load_mapping(mapping), path=path, manifest=manifest)
