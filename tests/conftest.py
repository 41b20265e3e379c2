"""Shared test fixtures: a real PostgreSQL server, migrated once per test session.

Server order (brief §4): TEST_DATABASE_URL, the machine's server at 127.0.0.1:5432, a
testcontainers container where a Docker engine answers, otherwise the embedded server.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import tempfile
from collections.abc import Iterator

import pytest

from services.kit import pgserver


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    explicit = os.environ.get("TEST_DATABASE_URL")
    if explicit:
        yield explicit
        return
    local = pgserver.local_server_url()
    if local:
        yield local
        return
    with contextlib.ExitStack() as stack:
        docker = stack.enter_context(pgserver.docker_server_url())
        if docker:
            yield docker
            return
        data_dir = pathlib.Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fire-credit-pg-")))
        yield pgserver.embedded_server_url(data_dir / "pg")


def fresh_database(server_url: str, prefix: str) -> str:
    return pgserver.ensure_database(server_url, f"{prefix}_{os.getpid()}", recreate=True)


def drop_database(server_url: str, url: str) -> None:
    name = url.split("?")[0].rsplit("/", 1)[1]
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity where datname = %s and pid <> pg_backend_pid()",
            (name,),
        )
        conn.execute(f'drop database if exists "{name}"')
