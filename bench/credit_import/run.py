"""Micro-benchmark of credit's `POST /v1/units:import`: credit's CPU per unit, as sharing's nightly
forwarder loads it (batches of 5,000 items, ~40% with one legal representative).

    .venv/bin/python -m bench.credit_import.run                    # 60,000 units, best of 3
    .venv/bin/python -m bench.credit_import.run --units 100000 --repeat 3
    .venv/bin/python -m bench.credit_import.run --pure --repeat 10  # per-item Python, no database

Each repetition creates a fresh database (`bench_credit_import`, on BENCH_DATABASE_URL, else the
machine's 127.0.0.1:5432, else the embedded server), migrates it, starts credit's app (uvicorn, one
process) and posts, one batch at a time: every unit new (all `created`), the same batches again
(all `unchanged`), then every unit with another address (all `updated`). For each phase it reports
the wall time, the credit process's CPU (user + system, psutil) and the CPU of the PostgreSQL
backends serving the bench database, per unit; the best (lowest) of the repetitions is printed with
every run's figures. A small warm-up batch of other units goes first.

`--pure` runs `importer.import_units` in this process on a stand-in database connection (the
statements are not executed; the locking read answers nothing for new units, the stored rows for a
re-send), so it measures the per-item Python alone, without asyncpg's encoding or the HTTP server.
Use `--profile FILE` (py-spy raw stacks of the server during `--profile-phase`) to see where it goes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil
import psycopg

from services.credit.demo import unit_item
from services.kit import migrate, pgserver
from services.kit.auth import TokenService, ensure_dev_keyset
from services.kit.synthetic import YanbianGenerator

ROOT = Path(__file__).resolve().parents[2]
BATCH = 5_000
DATABASE = "bench_credit_import"


def items(start: int, count: int, *, generation: int = 0) -> list[dict[str, Any]]:
    """Items as sharing's forwarder builds them (`services/sharing/ingest/forward.py::unit_in`):
    optional texts only when present, ISO dates, persons for ~40% of the units."""
    out = []
    for u in YanbianGenerator(7).units(start, count):
        item = unit_item(u)
        if generation:
            item["address"] = f"{u.address}{generation}栋"
        pick = hashlib.blake2b(u.uscc.encode(), digest_size=1).digest()[0]
        if pick % 2:
            item["reg_status_date"] = u.established_on.isoformat()
        if pick % 5 >= 2:
            del item["persons"]
        out.append(item)
    return out


def bodies(units: int, *, generation: int = 0, offset: int = 0) -> list[bytes]:
    return [
        orjson.dumps({"items": items(offset + s, min(BATCH, units - s), generation=generation)})
        for s in range(0, units, BATCH)
    ]


def server_url() -> str:
    return (
        os.environ.get("BENCH_DATABASE_URL")
        or pgserver.local_server_url()
        or pgserver.embedded_server_url(Path(tempfile.mkdtemp(prefix="bench-credit-import-pg-")))
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return float(t.user + t.system)


def _sys(proc: psutil.Process) -> float:
    return float(proc.cpu_times().system)


def _backend_cpu(url: str) -> dict[int, float]:
    """CPU seconds of every PostgreSQL backend connected to the bench database (same machine only)."""
    with psycopg.connect(url, autocommit=True) as conn:
        pids = [r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (DATABASE,))]
        own = conn.execute("SELECT pg_backend_pid()").fetchone()
    out = {}
    for pid in pids:
        if own is not None and pid == own[0]:
            continue
        with contextlib.suppress(psutil.Error, OSError):  # a backend gone meanwhile
            out[pid] = _cpu(psutil.Process(pid))
    return out


def run_once(
    server: str,
    units: int,
    phases: dict[str, list[bytes]],
    warmup: bytes,
    profile: str | None = None,
    profile_phase: str = "new",
    sql: str | None = None,
) -> dict[str, Any]:
    url = pgserver.ensure_database(server, DATABASE, recreate=True)
    migrate.upgrade("credit", url)
    if sql:  # an experiment's statements, after the migrations
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[call-overload]
    tmp = Path(tempfile.mkdtemp(prefix="bench-credit-import-"))
    keys = ensure_dev_keyset(tmp / "credit-signing-keys.json")
    tokens = TokenService(keys=keys, issuer="https://credit.fire.yanbian.gov.cn", audience="fire-credit")
    token, _ = tokens.issue(client_id="bench", department="bench", scopes=["units:read", "units:write"])
    env = {**os.environ, "CREDIT_DATABASE_URL": url, "CREDIT_DATA_DIR": str(tmp), "CREDIT_LOG_LEVEL": "WARNING"}
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "services.credit.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
        cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    result: dict[str, Any] = {}
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        server_proc = psutil.Process(proc.pid)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        with httpx.Client(base_url=base, headers=headers, timeout=600) as client:
            assert client.post("/v1/units:import", content=warmup).status_code == 200
            for phase, batches in phases.items():
                spy = None
                if profile and phase == profile_phase:  # py-spy's raw (collapsed) stacks of the server
                    spy = subprocess.Popen(
                        [
                            str(Path(sys.executable).parent / "py-spy"),
                            "record",
                            "-r",
                            "100",
                            "-f",
                            "raw",
                            "-o",
                            profile,
                            "-p",
                            str(proc.pid),
                            *os.environ.get("BENCH_PYSPY", "--nonblocking").split(),
                        ],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                    time.sleep(1)
                cpu0, sys0, pg0, t0 = _cpu(server_proc), _sys(server_proc), _backend_cpu(url), time.perf_counter()
                counts: dict[str, int] = {}
                for body in batches:
                    answer = client.post("/v1/units:import", content=body)
                    assert answer.status_code == 200, answer.text[:500]
                    for k, v in answer.json()["counts"].items():
                        counts[k] = counts.get(k, 0) + v
                wall, cpu, pg1 = time.perf_counter() - t0, _cpu(server_proc) - cpu0, _backend_cpu(url)
                pg = sum(v - pg0.get(pid, 0.0) for pid, v in pg1.items())
                expected = {"new": "created", "unchanged": "unchanged", "updated": "updated"}[phase]
                assert counts.get(expected) == units, (phase, counts)
                result[phase] = {
                    "wall_s": round(wall, 3),
                    "credit_cpu_us_per_unit": round(cpu / units * 1e6, 1),
                    "of_which_system_us": round((_sys(server_proc) - sys0) / units * 1e6, 1),
                    "postgres_cpu_us_per_unit": round(pg / units * 1e6, 1),
                    "units_per_s": round(units / wall),
                }
                if spy is not None:
                    spy.send_signal(signal.SIGINT)
                    spy.wait(timeout=60)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return result


# ------------------------------------------------------------------------------------------- --pure


def _split(joined: str) -> list[str | None]:
    return [v or None for v in joined.split("\x1f")] if joined else []


class _FakeConnection:
    """Answers the import's statements as a database would for a batch of new units (nothing stored)
    or a re-sent batch (`stored`: each unit's row as the locking read returns it, a tuple standing in
    for asyncpg's Record, with every stored value: the read leaves out the given ones), without running
    them."""

    def __init__(self, stored: dict[str, tuple[Any, ...]] | None) -> None:
        self.stored = stored or {}

    def is_in_transaction(self) -> bool:
        return True

    async def fetch(self, query: str, *args: Any) -> list[Any]:
        from services.credit.units import repository as repo

        if query.startswith("SELECT"):  # the locking read
            return [self.stored[u] for u in args[0].split("\x1f") if u in self.stored]
        return [(u,) for u in _split(args[1 + repo.USCC_AT])]  # new units: all inserted

    async def execute(self, query: str, *args: Any) -> str:
        return "OK"

    async def copy_records_to_table(self, *args: Any, **kwargs: Any) -> str:
        return "COPY"


class _CapturingConnection(_FakeConnection):
    """Keeps what the import inserts, as the locking read would return it afterwards."""

    def __init__(self) -> None:
        super().__init__(None)
        self.rows: dict[str, list[Any]] = {}

    async def fetch(self, query: str, *args: Any) -> list[Any]:
        import datetime as dt

        from services.credit.units import repository as repo

        if query.startswith("SELECT"):
            return []
        n = len(repo.HASHED_COLUMNS)
        columns = [_split(a) for a in args[1:]]
        units, persons = columns[: n + 1], columns[n + 1 :]
        answer = []
        for values in zip(*units, strict=True):
            uscc = str(values[repo.USCC_AT])
            row = [len(self.rows) + 1, uscc, *values[:n], 1, values[n], None]
            for c in ("reg_status_date", "established_on"):
                at = repo.STORED_VALUES.start + repo.HASHED_COLUMNS.index(c)
                row[at] = None if row[at] is None else dt.date.fromisoformat(row[at])
            self.rows[uscc] = row
            answer.append((uscc,))
        for uscc, role, name, h, *_ in zip(*persons, strict=True):
            row = self.rows[str(uscc)]
            held = orjson.loads(row[repo.LOCKED_PERSONS]) if row[repo.LOCKED_PERSONS] else []
            row[repo.LOCKED_PERSONS] = orjson.dumps([*held, [role, name, h]]).decode()
        return answer

    def as_locked(self) -> dict[str, tuple[Any, ...]]:
        return {uscc: tuple(row) for uscc, row in self.rows.items()}


def pure(units: int, repeat: int) -> dict[str, Any]:
    """Per-item Python of the import (body parse, checks, hashes, encryption, statement parameters,
    answer encoding), without a database: best of `repeat`, µs per unit."""
    from services.credit.units import importer
    from services.credit.units import repository as repo
    from services.kit.auth import Principal
    from services.kit.pii import PiiProtector

    class Ctx:
        pii = PiiProtector.from_secret("bench-pure")

        @staticmethod
        def now() -> Any:
            return None

    principal = Principal(client_id="bench", department="bench", scopes=frozenset({"units:write"}))
    encoded = bodies(units)
    fake: list[_FakeConnection] = []

    async def connection(_session: Any) -> Any:
        return fake[0]

    repo.driver_connection = connection  # type: ignore[assignment]

    async def one(batches: list[bytes], stored: dict[str, tuple[Any, ...]] | None) -> list[float]:
        """CPU seconds of each batch: parse, import, encode the answer."""
        fake[:] = [_FakeConnection(stored)]
        spent = []
        expected = "unchanged" if stored else "created"
        for body in batches:
            t = time.process_time()
            batch = orjson.loads(body)["items"]  # as `json_body` does
            answer = await importer.import_units(Ctx(), None, batch, principal)  # type: ignore[arg-type]
            orjson.dumps(answer)
            spent.append(time.process_time() - t)
            assert answer["counts"][expected] == len(batch), answer["counts"]
        return spent

    async def stored_rows() -> dict[str, tuple[Any, ...]]:
        """The units as the locking read returns them once imported (content hashes included)."""
        capture = _CapturingConnection()
        fake[:] = [capture]
        for body in encoded:
            await importer.import_units(Ctx(), None, orjson.loads(body)["items"], principal)  # type: ignore[arg-type]
        return capture.as_locked()

    stored = asyncio.run(stored_rows())
    # the bench's own objects (bodies, stored rows) are frozen out of the collector's passes, so that
    # the figure does not depend on this process's heap
    gc.collect()
    gc.freeze()
    # each batch's best time over the repetitions (the machine is shared: the least disturbed run of each)
    best: dict[str, list[float]] = {}
    for _ in range(repeat):
        for phase, rows in (("new", None), ("unchanged", stored)):
            times = asyncio.run(one(encoded, rows))
            best[phase] = [min(a, b) for a, b in zip(best.get(phase, times), times, strict=True)]
    return {"units": units, "python_us_per_unit": {k: round(sum(v) / units * 1e6, 2) for k, v in best.items()}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=60_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pure", action="store_true", help="per-item Python only, no database")
    parser.add_argument("--phases", default="new,unchanged,updated")
    parser.add_argument("--sql", help="SQL run on the fresh database after the migrations (an experiment)")
    parser.add_argument("--profile", help="write py-spy raw stacks of the server during one phase to this file")
    parser.add_argument(
        "--profile-phase",
        default="new",
        help="the phase --profile records (default: new); BENCH_PYSPY replaces py-spy's --nonblocking (--native)",
    )
    args = parser.parse_args()
    if args.pure:
        print(json.dumps(pure(args.units, args.repeat), indent=2))
        return 0
    server = server_url()
    wanted = args.phases.split(",")
    all_phases = {
        "new": bodies(args.units),
        "unchanged": bodies(args.units),
        "updated": bodies(args.units, generation=1),
    }
    phases = {k: v for k, v in all_phases.items() if k in wanted}
    warmup = orjson.dumps({"items": items(10_000_000, 200)})
    runs = [
        run_once(server, args.units, phases, warmup, args.profile, args.profile_phase, args.sql)
        for _ in range(args.repeat)
    ]
    best = {
        phase: {
            k: min(r[phase][k] for r in runs) if k != "units_per_s" else max(r[phase][k] for r in runs)
            for k in runs[0][phase]
        }
        for phase in phases
    }
    print(json.dumps({"units": args.units, "batch": BATCH, "best": best, "runs": runs}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
