"""sharing forwarding to the real credit service (a subprocess on a free port, its own database)."""

from __future__ import annotations

import os
import pathlib
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import psycopg
import pytest

from services.kit.migrate import upgrade
from services.kit.pgserver import ensure_database
from services.sharing.credit_api.client import CreditClient
from services.sharing.ingest.service import EXIT_FORWARD_PENDING, IngestJob, IngestStop, mirror_checksum
from services.sharing.simulator.generate import Registry, write_feed
from tests.sharing.conftest import spec_for

SECRET = "sharing-sync-test-secret-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class CreditServer:
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
def credit(pg_server_url: str, tmp_path: pathlib.Path) -> Iterator[CreditServer]:
    url = ensure_database(pg_server_url, f"credit_for_sharing_{os.getpid()}", recreate=True)
    upgrade("credit", url)
    server = CreditServer(url, tmp_path / "credit-dev")
    subprocess.run([sys.executable, "-m", "services.credit.cli", "clients", "create", "--id", "sharing-sync",
                    "--department", "samr-feed", "--scopes", "units:write", "units:read", "--secret", SECRET],
                   env=server.env, check=True, capture_output=True, timeout=60)
    server.start()
    yield server
    server.stop()


def credit_units(url: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT uscc, name, reg_status, region_code, industry_code, address, version "
                            "FROM credit.units ORDER BY uscc").fetchall()


def test_forwarded_units_land_in_credit_and_survive_an_outage(
        sharing_db: str, credit: CreditServer, tmp_path: pathlib.Path,
        make_job: Callable[..., IngestJob]) -> None:
    reg = Registry(seed=31, size=3000, change_rate=0.03)
    full = tmp_path / "full.csv"
    write_feed(full, reg.full(0), encoding="gb18030", kind="full", sequence=0)
    delta = tmp_path / "delta1.csv"
    write_feed(delta, reg.delta(1), kind="delta", sequence=1, base_sequence=0)
    client = CreditClient(credit.base, "sharing-sync", SECRET)
    job = make_job(sharing_db, client)
    job.policy.forward.batch_size = 500
    run = job.run(spec_for(full))
    assert (run["forwarded"], run["forward_rejected"], run["forward_pending"]) == (3000, 0, 0)
    assert len(credit_units(credit.url)) == 3000
    token = client.token()
    some = reg.state(5, 0)
    with httpx.Client() as http:
        got = http.get(f"{credit.base}/v1/units/{some.uscc}", headers={"Authorization": f"Bearer {token}"}).json()
    assert got["name"] == some.name
    assert got["region_code"] == some.region

    # credit goes down: the delta is applied to the mirror, forwarding retries, gives up, keeps it pending
    credit.stop()
    job.policy.forward.give_up_after_seconds = 1.0
    with pytest.raises(IngestStop) as stop:
        job.run(spec_for(delta))
    assert stop.value.code == EXIT_FORWARD_PENDING
    with psycopg.connect(sharing_db) as conn:
        pending = conn.execute("SELECT forward_pending FROM sharing.sync_runs WHERE id = %s",
                               (stop.value.run_id,)).fetchone()
    assert pending is not None
    assert pending[0] > 0
    # back up: the next run (here `sharing forward`) sends what was pending; nothing is lost
    credit.start()
    client.close()
    job.credit = CreditClient(credit.base, "sharing-sync", SECRET)
    done = job.forward_only()
    assert done["forwarded"] == pending[0]
    assert done["forward_pending"] == 0
    # credit down for part of one run: it comes back while the job backs off, the run ends complete
    full1 = tmp_path / "full1.csv"
    write_feed(full1, reg.full(2), kind="full", sequence=2)
    credit.stop()
    job.policy.forward.give_up_after_seconds = 60.0
    slept: list[float] = []

    def sleep_then_restart(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) == 2:
            credit.start()
        time.sleep(min(seconds, 0.2))

    job.sleep = sleep_then_restart
    again = job.run(spec_for(full1))
    assert again["status"] == "succeeded"
    assert again["forward_pending"] == 0
    assert len(slept) >= 2
    # mirror and credit agree unit by unit
    with psycopg.connect(sharing_db) as conn:
        mirror = conn.execute("SELECT uscc, name, reg_status, region_code, industry_code, address, forward_version "
                              "FROM sharing.registry ORDER BY uscc").fetchall()
    assert mirror == credit_units(credit.url)
    assert mirror_checksum(sharing_db)
    job.credit.close()
