"""sharing fixtures: its own database per test module (real PostgreSQL), migrated with its chain."""

from __future__ import annotations

import os
import pathlib
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import httpx
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


# ---------------------------------------------------------------------- a real credit service

SECRET = "sharing-sync-test-secret-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class CreditServer:
    """credit as a subprocess on a free port against its own database (`python -m services.credit.cli serve`)."""

    def __init__(self, url: str, data_dir: pathlib.Path) -> None:
        self.url = url
        self.port = free_port()
        self.env = {**os.environ, "CREDIT_DATABASE_URL": url, "CREDIT_DATA_DIR": str(data_dir)}
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "services.credit.cli", "serve", "--port", str(self.port)],
                                     env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with httpx.Client(timeout=1) as http:
                    if http.get(self.base + "/v1/oauth/jwks").status_code == 200:
                        return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("credit did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
            self.proc = None


@pytest.fixture
def start_credit(pg_server_url: str, tmp_path: pathlib.Path) -> Iterator[Callable[[str], CreditServer]]:
    """Start credit servers on fresh databases (one data dir: the same signing and PII keys)."""
    servers: list[CreditServer] = []

    def start(database: str) -> CreditServer:
        url = pgserver.ensure_database(pg_server_url, database, recreate=True)
        upgrade("credit", url)
        server = CreditServer(url, tmp_path / "credit-dev")
        subprocess.run([sys.executable, "-m", "services.credit.cli", "clients", "create", "--id", "sharing-sync",
                        "--department", "samr-feed", "--scopes", "units:write", "units:read", "--secret", SECRET],
                       env=server.env, check=True, capture_output=True, timeout=60)
        servers.append(server)
        server.start()
        return server

    yield start
    for server in servers:
        server.stop()
