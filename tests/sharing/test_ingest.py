"""The ingest job against a real PostgreSQL: diff, idempotence, guard, gaps, lock, kill -9, quarantine."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from services.sharing.feeds.mapping import load_mapping
from services.sharing.ingest import repository as repo
from services.sharing.ingest.service import (
    EXIT_DELTA_GAP,
    EXIT_LOCKED,
    EXIT_REFUSED,
    IngestJob,
    IngestOptions,
    IngestStop,
    mirror_checksum,
)
from services.sharing.quarantine import repository as qrepo
from services.sharing.quarantine.service import fix_row, replay
from services.sharing.simulator.generate import DirtyPlan, Registry, write_feed
from tests.sharing.conftest import spec_for

NO_FORWARD = IngestOptions(forward=False)
Q_FIRST_RUN = "SELECT line, reason FROM sharing.quarantine WHERE run_id = 1 ORDER BY line"


def feeds(tmp: pathlib.Path, size: int = 600, seed: int = 11, rate: float = 0.03) -> dict[str, pathlib.Path]:
    reg = Registry(seed=seed, size=size, change_rate=rate)
    out = {}
    out["full0"] = tmp / "full0.csv"
    write_feed(out["full0"], reg.full(0), encoding="gb18030", kind="full", sequence=0)
    for k in (1, 2):
        out[f"delta{k}"] = tmp / f"delta{k}.csv"
        write_feed(out[f"delta{k}"], reg.delta(k), kind="delta", sequence=k, base_sequence=k - 1)
    out["full2"] = tmp / "full2.jsonl"
    write_feed(out["full2"], reg.full(2), fmt="jsonl", kind="full", sequence=2)
    return out


def content(url: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT uscc, content_hash, reg_status, industry_code FROM sharing.registry "
                            "WHERE absent_since IS NULL ORDER BY uscc").fetchall()


def test_full_then_two_deltas_equals_the_later_full(sharing_db: str, pg_server_url: str, tmp_path: pathlib.Path,
                                                    make_job: Callable[..., IngestJob]) -> None:
    f = feeds(tmp_path)
    job = make_job(sharing_db)
    first = job.run(spec_for(f["full0"]), NO_FORWARD)
    assert (first["new"], first["quarantined"], first["status"]) == (600, 0, "succeeded")
    d1 = job.run(spec_for(f["delta1"]), NO_FORWARD)
    d2 = job.run(spec_for(f["delta2"]), NO_FORWARD)
    for d in (d1, d2):
        assert d["new"] == 6
        assert d["changed"] + d["status_changed"] > 0
    with psycopg.connect(sharing_db) as conn:
        kinds = dict(conn.execute("SELECT kind, count(*) FROM sharing.registry_changes WHERE run_id = %s "
                                  "GROUP BY kind", (d2["id"],)).fetchall())
        fields = conn.execute("SELECT fields FROM sharing.registry_changes WHERE kind = 'changed' LIMIT 1").fetchone()
    assert kinds["new"] == 6
    with psycopg.connect(sharing_db) as conn:
        baseline_rows = conn.execute("SELECT count(*) FROM sharing.registry_changes WHERE run_id = %s",
                                     (first["id"],)).fetchone()
        first_seen = conn.execute("SELECT count(*) FROM sharing.registry WHERE first_seen_run = %s",
                                  (first["id"],)).fetchone()
    # into an empty registry every unit is new: no per-unit diff rows, first_seen_run says it
    assert baseline_rows == (0,)
    assert first_seen == (600,)
    assert fields is not None
    assert fields[0]
    # a fresh mirror fed the full snapshot at sequence 2 holds exactly the same registry
    from services.kit.migrate import upgrade
    from services.kit.pgserver import ensure_database

    other = ensure_database(pg_server_url, f"sharing_t_{os.getpid()}_other", recreate=True)
    upgrade("sharing", other)
    make_job(other).run(spec_for(f["full2"]), NO_FORWARD)
    assert content(sharing_db) == content(other)
    # and a full snapshot at sequence 2 on top of the deltas changes nothing
    again = job.run(spec_for(f["full2"]), NO_FORWARD)
    assert (again["new"], again["changed"], again["status_changed"], again["absent"]) == (0, 0, 0, 0)


def test_the_same_feed_twice_changes_nothing(sharing_db: str, tmp_path: pathlib.Path,
                                             make_job: Callable[..., IngestJob]) -> None:
    f = feeds(tmp_path, size=300)
    job = make_job(sharing_db)
    job.run(spec_for(f["full0"]), NO_FORWARD)
    before = mirror_checksum(sharing_db)
    again = job.run(spec_for(f["full0"]), NO_FORWARD)
    assert (again["new"], again["changed"], again["status_changed"], again["unchanged"]) == (0, 0, 0, 300)
    assert mirror_checksum(sharing_db) == before
    job.run(spec_for(f["delta1"]), NO_FORWARD)
    after_delta = mirror_checksum(sharing_db)
    with pytest.raises(IngestStop) as stop:
        job.run(spec_for(f["delta1"]), NO_FORWARD)
    assert (stop.value.code, stop.value.status) == (0, "skipped")
    assert mirror_checksum(sharing_db) == after_delta


def test_guard_refuses_a_truncated_snapshot_and_mass_deregistration(
        sharing_db: str, tmp_path: pathlib.Path, make_job: Callable[..., IngestJob]) -> None:
    f = feeds(tmp_path, size=1000)
    job = make_job(sharing_db)
    job.run(spec_for(f["full0"]), NO_FORWARD)
    before = mirror_checksum(sharing_db)
    # the producer's manifest says 1000 records; the file was cut after 400
    cut = tmp_path / "cut.csv"
    lines = f["full0"].read_bytes().split(b"\r\n")
    cut.write_bytes(b"\r\n".join(lines[:401]) + b"\r\n")
    (tmp_path / "cut.csv.manifest.json").write_bytes((tmp_path / "full0.csv.manifest.json").read_bytes())
    with pytest.raises(IngestStop) as stop:
        job.run(spec_for(cut), NO_FORWARD)
    assert stop.value.code == EXIT_REFUSED
    assert "truncated" in stop.value.message
    assert "drop 600 of 1000" in stop.value.message
    assert mirror_checksum(sharing_db) == before
    # without a manifest the record count and absent share still refuse it
    (tmp_path / "cut.csv.manifest.json").unlink()
    from services.sharing.feeds.readers import Manifest
    from services.sharing.ingest.service import FeedSpec

    spec = FeedSpec(source="samr", mapping=load_mapping("samr"), path=cut, manifest=Manifest(kind="full"))
    with pytest.raises(IngestStop) as stop:
        job.run(spec, NO_FORWARD)
    assert "far below the last full snapshot" in stop.value.message
    assert mirror_checksum(sharing_db) == before
    # a delta deregistering a third of the registry
    reg = Registry(seed=11, size=1000)
    mass = tmp_path / "mass.csv"
    units = []
    for i in range(350):
        u = reg.state(i, 0)
        u.status, u.change = "deregistered", "cancelled"
        units.append(u)
    write_feed(mass, iter(units), kind="delta", sequence=1, base_sequence=0)
    with pytest.raises(IngestStop) as stop:
        job.run(spec_for(mass), NO_FORWARD)
    assert stop.value.code == EXIT_REFUSED
    assert "deregister" in stop.value.message
    with psycopg.connect(sharing_db) as conn:
        report = repo.get_run(conn, int(stop.value.run_id or 0))
    assert report["status"] == "refused"
    assert report["guard"]["deregistering"] == 350
    # an operator may force it
    forced = job.run(spec_for(mass), IngestOptions(forward=False, force=True))
    assert forced["status_changed"] == 350


def test_delta_gaps_are_detected(sharing_db: str, tmp_path: pathlib.Path, make_job: Callable[..., IngestJob]) -> None:
    f = feeds(tmp_path, size=200)
    job = make_job(sharing_db)
    with pytest.raises(IngestStop) as stop:
        job.run(spec_for(f["delta1"]), NO_FORWARD)  # no baseline yet
    assert stop.value.code == EXIT_DELTA_GAP
    assert "no base" in stop.value.message
    job.run(spec_for(f["full0"]), NO_FORWARD)
    with pytest.raises(IngestStop) as stop:
        job.run(spec_for(f["delta2"]), NO_FORWARD)  # delta 1 missing
    assert stop.value.code == EXIT_DELTA_GAP
    assert "ingest a full snapshot" in stop.value.message
    assert job.run(spec_for(f["full2"]), NO_FORWARD)["status"] == "succeeded"


def test_a_second_run_exits_at_once(sharing_db: str, tmp_path: pathlib.Path,
                                    make_job: Callable[..., IngestJob]) -> None:
    f = feeds(tmp_path, size=100)
    with psycopg.connect(sharing_db, autocommit=True) as holder:
        assert repo.try_lock(holder)
        started = time.perf_counter()
        with pytest.raises(IngestStop) as stop:
            make_job(sharing_db).run(spec_for(f["full0"]), NO_FORWARD)
        assert stop.value.code == EXIT_LOCKED
        assert time.perf_counter() - started < 2
    # and the CLI says so with its distinct exit code
    with psycopg.connect(sharing_db, autocommit=True) as holder:
        repo.try_lock(holder)
        proc = subprocess.run([sys.executable, "-m", "services.sharing.cli", "ingest", str(f["full0"]),
                               "--no-forward", "--quiet"], env={**os.environ, "SHARING_DATABASE_URL": sharing_db},
                              capture_output=True, text=True, timeout=60)
    assert proc.returncode == EXIT_LOCKED
    assert "another ingest is running" in proc.stderr


def test_dirty_rows_are_quarantined_and_can_be_fixed_and_replayed(
        sharing_db: str, tmp_path: pathlib.Path, make_job: Callable[..., IngestJob]) -> None:
    path = tmp_path / "dirty.csv"
    classes = ("bad_checksum", "encoding", "bom_header", "duplicate", "missing_name", "truncated", "bad_date",
               "bad_citizen_id", "unknown_status")
    write_feed(path, Registry(seed=4, size=900).full(0), dirty=DirtyPlan(classes, every=50))
    job = make_job(sharing_db)
    run = job.run(spec_for(path), NO_FORWARD)
    assert run["rejects"] == {"uscc_checksum": 2, "encoding": 2, "repeated_header": 2, "duplicate_uscc": 2,
                              "missing_field": 2, "wrong_column_count": 2, "invalid_date": 2,
                              "citizen_id_invalid": 2, "unknown_code": 2}
    assert run["quarantined"] == 18
    assert run["rows_read"] == run["staged"] + run["quarantined"]
    with psycopg.connect(sharing_db) as conn:
        rows = qrepo.list_rows(conn, run_id=run["id"], reason="invalid_date")
        assert rows[0]["line"] > 1
        assert "2019-02-30" in rows[0]["detail"]
        enc = qrepo.list_rows(conn, run_id=run["id"], reason="encoding")
        assert "GB18030" in enc[0]["detail"]
        fix_row(conn, int(rows[0]["id"]), {"established_on": "2019-02-28"})
        uscc = rows[0]["raw"]["uscc"]
    replayed = replay(job, sharing_db, load_mapping("samr"))
    assert replayed["new"] == 1
    with psycopg.connect(sharing_db) as conn:
        est = conn.execute("SELECT established_on::text FROM sharing.registry WHERE uscc = %s", (uscc,)).fetchone()
        assert est == ("2019-02-28",)
        assert qrepo.get_row(conn, int(rows[0]["id"]))["status"] == "replayed"  # type: ignore[index]


def test_headers_only_file_applies_nothing(sharing_db: str, tmp_path: pathlib.Path,
                                           make_job: Callable[..., IngestJob]) -> None:
    path = tmp_path / "h.csv"
    write_feed(path, iter([]))
    with pytest.raises(IngestStop) as stop:
        make_job(sharing_db).run(spec_for(path), NO_FORWARD)
    assert stop.value.code == 5
    assert "no records" in stop.value.message


def test_survey_list_has_new_and_repurposed_fire_sensitive_units(
        sharing_db: str, tmp_path: pathlib.Path, make_job: Callable[..., IngestJob]) -> None:
    f = feeds(tmp_path, size=2000, seed=8, rate=0.1)
    job = make_job(sharing_db)
    base = job.run(spec_for(f["full0"]), NO_FORWARD)
    d1 = job.run(spec_for(f["delta1"]), NO_FORWARD)
    assert base["survey_listed"] == 0
    with psycopg.connect(sharing_db) as conn:
        reasons = dict(conn.execute("SELECT reason, count(*) FROM sharing.survey_units WHERE run_id = %s "
                                    "GROUP BY reason", (d1["id"],)).fetchall())
        codes = [r[0] for r in conn.execute("SELECT industry_code FROM sharing.survey_units").fetchall()]
    assert reasons.get("repurposed", 0) > 0
    assert reasons.get("new", 0) > 0
    assert all(c.startswith(("H61", "H62", "R90", "G59", "Q84", "P83", "O805", "F521")) for c in codes)


def test_run_killed_with_sigkill_resumes_to_the_same_state(
        sharing_db: str, pg_server_url: str, tmp_path: pathlib.Path, make_job: Callable[..., IngestJob]) -> None:
    path = tmp_path / "big.csv"
    write_feed(path, Registry(seed=21, size=30_000).full(0), encoding="gb18030",
               dirty=DirtyPlan(("bad_date", "duplicate"), every=997))
    env = {**os.environ, "SHARING_DATABASE_URL": sharing_db}
    cmd = [sys.executable, "-m", "services.sharing.cli", "ingest", str(path), "--no-forward", "--quiet",
           "--batch-size", "2000"]
    for kill_when in ("staging", "applying"):
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        killed = False
        while time.monotonic() < deadline and proc.poll() is None:
            with psycopg.connect(sharing_db) as conn:
                row = conn.execute("SELECT phase, rows_read, apply_after FROM sharing.sync_runs "
                                   "WHERE status = 'running'").fetchone()
            if row and row[0] == kill_when and (row[1] > 4000 if kill_when == "staging" else row[2] != ""):
                os.kill(proc.pid, signal.SIGKILL)
                killed = True
                break
            time.sleep(0.02)
        proc.wait()
        assert killed, f"the run ended before it could be killed while {kill_when}"
        with psycopg.connect(sharing_db) as conn:
            assert conn.execute("SELECT count(*) FROM sharing.sync_runs WHERE status = 'running'").fetchone() == (1,)
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    resumed = mirror_checksum(sharing_db)
    with psycopg.connect(sharing_db) as conn:
        q_resumed = conn.execute(Q_FIRST_RUN).fetchall()
    # an uninterrupted run of the same feed, in a fresh database
    from services.kit.migrate import upgrade
    from services.kit.pgserver import ensure_database

    clean = ensure_database(pg_server_url, f"sharing_t_{os.getpid()}_clean", recreate=True)
    upgrade("sharing", clean)
    make_job(clean).run(spec_for(path), NO_FORWARD)
    assert mirror_checksum(clean) == resumed
    with psycopg.connect(clean) as conn:
        assert conn.execute(Q_FIRST_RUN).fetchall() == q_resumed


def test_validation_workers_stage_exactly_what_the_job_process_stages(
        pg_server_url: str, tmp_path: pathlib.Path, make_job: Callable[..., IngestJob]) -> None:
    from services.kit.migrate import upgrade
    from services.kit.pgserver import ensure_database
    from services.sharing.simulator.generate import DIRTY_CLASSES

    path = tmp_path / "dirty.csv"
    write_feed(path, Registry(seed=5, size=3000).full(0), encoding="gb18030",
               dirty=DirtyPlan(tuple(sorted(DIRTY_CLASSES)), every=53))
    outcomes = []
    for workers in (1, 2):
        url = ensure_database(pg_server_url, f"sharing_t_{os.getpid()}_workers{workers}", recreate=True)
        upgrade("sharing", url)
        run = make_job(url).run(spec_for(path), IngestOptions(forward=False, stage_workers=workers, pool_after_rows=0,
                                                              stage_batch=700, stage_part=150))
        with psycopg.connect(url) as conn:
            quarantine = conn.execute("SELECT line, stage, reason, field, detail, uscc, raw FROM sharing.quarantine "
                                      "ORDER BY line, stage").fetchall()
        outcomes.append((mirror_checksum(url), quarantine, run["rows_read"], run["staged"], run["quarantined"],
                         run["rejects"]))
        assert run["timings"]["stage_workers"] == workers
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][4] > 0
