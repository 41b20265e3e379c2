"""sharing forwarding to the real credit service (a subprocess on a free port, its own database)."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx
import psycopg
import pytest

from services.kit.migrate import upgrade
from services.kit.pgserver import ensure_database
from services.sharing.credit_api.client import CreditClient
from services.sharing.ingest.service import EXIT_FORWARD_PENDING, IngestJob, IngestStop, mirror_checksum
from services.sharing.simulator.generate import Registry, write_feed
from tests.sharing.conftest import SECRET, CreditServer, spec_for


@pytest.fixture
def credit(start_credit: Callable[[str], CreditServer]) -> CreditServer:
    return start_credit(f"credit_for_sharing_{os.getpid()}")


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
        mirror = conn.execute("SELECT r.uscc, r.name, r.reg_status, r.region_code, r.industry_code, r.address, "
                              "f.forward_version FROM sharing.registry r "
                              "LEFT JOIN sharing.forward_state f ON f.uscc = r.uscc ORDER BY r.uscc").fetchall()
    assert mirror == credit_units(credit.url)
    assert mirror_checksum(sharing_db)
    job.credit.close()


CREDIT_CHECKSUM = """
    SELECT md5(coalesce(string_agg(concat_ws('|', u.uscc, u.name, u.unit_type, u.reg_status, u.reg_status_date,
                                             u.reg_authority, u.region_code, u.industry_code, u.address,
                                             u.established_on, u.version, encode(u.content_hash, 'hex'),
                                             u.updated_by, p.persons), E'\\n' ORDER BY u.uscc), '')),
           count(*)
    FROM credit.units u
    LEFT JOIN LATERAL (
        SELECT string_agg(concat_ws(':', role, name, encode(id_hash, 'hex'), id_masked, current), ';'
                          ORDER BY role, name, id_masked) AS persons
        FROM credit.unit_persons WHERE unit_id = u.id
    ) p ON true"""


def credit_checksum(url: str) -> str:
    """credit's units as sharing sets them (and the versions credit gave them), without timestamps or ids."""
    with psycopg.connect(url) as conn:
        row = conn.execute(CREDIT_CHECKSUM).fetchone()
    assert row is not None
    return f"{row[0]}:{row[1]}"


@pytest.mark.slow
def test_run_killed_while_forwarding_resumes_to_the_same_credit_units(
        pg_server_url: str, start_credit: Callable[[str], CreditServer], tmp_path: pathlib.Path) -> None:
    size = 12_000
    path = tmp_path / "full.csv"
    write_feed(path, Registry(seed=41, size=size).full(0), encoding="gb18030", kind="full", sequence=0)
    policy = tmp_path / "policy.toml"
    default = (pathlib.Path(__file__).resolve().parents[2] / "services" / "sharing" / "policy.toml").read_text()
    policy.write_text(default.replace("batch_size = 5000", "batch_size = 300").replace("concurrency = 3",
                                                                                       "concurrency = 2"))
    assert "batch_size = 300" in policy.read_text()

    def ingest_env(sharing_url: str, credit: CreditServer) -> dict[str, str]:
        return {**os.environ, "SHARING_DATABASE_URL": sharing_url, "SHARING_CREDIT_URL": credit.base,
                "SHARING_CREDIT_CLIENT_SECRET": SECRET, "SHARING_POLICY_FILE": str(policy)}

    cmd = [sys.executable, "-m", "services.sharing.cli", "ingest", str(path), "--quiet", "--batch-size", "2000"]

    # killed (SIGKILL) while forwarding to credit, then the same command again
    killed_db = ensure_database(pg_server_url, f"sharing_t_{os.getpid()}_fwd_killed", recreate=True)
    upgrade("sharing", killed_db)
    credit_a = start_credit(f"credit_t_{os.getpid()}_fwd_killed")
    env = ingest_env(killed_db, credit_a)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    killed_at = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        with psycopg.connect(killed_db) as conn:
            row = conn.execute("SELECT phase, forwarded FROM sharing.sync_runs WHERE status = 'running'").fetchone()
        if row and 1500 <= row[1] <= size - 3000:
            os.kill(proc.pid, signal.SIGKILL)
            killed_at = row
            break
        time.sleep(0.01)
    proc.wait()
    assert killed_at is not None, "the run ended before it could be killed while forwarding"
    with psycopg.connect(killed_db) as conn:
        state = conn.execute("SELECT status, forwarded FROM sharing.sync_runs").fetchone()
    assert state is not None
    assert state[0] == "running"
    assert len(credit_units(credit_a.url)) < size  # credit holds part of the feed
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    with psycopg.connect(killed_db) as conn:
        final = conn.execute("SELECT status, forward_pending FROM sharing.sync_runs ORDER BY id DESC").fetchone()
    assert final == ("succeeded", 0)

    # an uninterrupted run of the same feed into fresh databases
    clean_db = ensure_database(pg_server_url, f"sharing_t_{os.getpid()}_fwd_clean", recreate=True)
    upgrade("sharing", clean_db)
    credit_b = start_credit(f"credit_t_{os.getpid()}_fwd_clean")
    clean = subprocess.run(cmd, env=ingest_env(clean_db, credit_b), capture_output=True, text=True, timeout=180)
    assert clean.returncode == 0, clean.stderr

    assert credit_checksum(credit_a.url) == credit_checksum(credit_b.url)
    assert credit_checksum(credit_b.url).endswith(f":{size}")
    assert mirror_checksum(killed_db) == mirror_checksum(clean_db)
