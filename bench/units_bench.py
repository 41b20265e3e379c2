"""Bench of issue 2: one bulk upsert of 10,000 units and 1,000 sequential unit GETs through the
real HTTP server, beside raw PostgreSQL doing the same work in the same run.

  .venv/bin/python -m bench.units_bench                 # uses 127.0.0.1:5432 or the embedded server
  .venv/bin/python -m bench.units_bench --gets 5000

Prints one JSON object; docs/bench.md records the figures with this command.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx

from services.credit.demo import unit_item
from services.kit import migrate, pgserver
from services.kit.auth import TokenService, ensure_dev_keyset
from services.kit.synthetic import YanbianGenerator


def _units(n: int) -> list[dict[str, object]]:
    return [unit_item(u) for u in YanbianGenerator(7).units(0, n)]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _raw(url: str, usccs: list[str], units: list[dict[str, object]]) -> dict[str, float]:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        stmt = await conn.prepare("SELECT * FROM credit.units WHERE uscc = $1")
        times = []
        for uscc in usccs:
            t = time.perf_counter()
            await stmt.fetchrow(uscc)
            times.append(time.perf_counter() - t)
        await conn.execute("CREATE TEMP TABLE copy_probe (uscc text, name text, region text, address text)")
        t = time.perf_counter()
        await conn.copy_records_to_table(
            "copy_probe", records=[(u["uscc"], u["name"], u["region_code"], u["address"]) for u in units]
        )
        copy_s = time.perf_counter() - t
    finally:
        await conn.close()
    return {
        "raw_get_mean_ms": statistics.mean(times) * 1e3,
        "raw_get_p50_ms": _pct(times, 0.5) * 1e3,
        "raw_get_p99_ms": _pct(times, 0.99) * 1e3,
        "raw_copy_10k_s": copy_s,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=10_000)
    parser.add_argument("--gets", type=int, default=1_000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-units-"))
    server = pgserver.local_server_url() or pgserver.embedded_server_url(tmp / "pg")
    url = pgserver.ensure_database(server, "bench_units", recreate=True)
    migrate.upgrade("credit", url)
    keys = ensure_dev_keyset(tmp / "credit-signing-keys.json")
    tokens = TokenService(keys=keys, issuer="https://credit.fire.yanbian.gov.cn", audience="fire-credit")
    token, _ = tokens.issue(client_id="bench", department="bench", scopes=["units:read", "units:write"])
    headers = {"Authorization": f"Bearer {token}"}
    env = {**os.environ, "CREDIT_DATABASE_URL": url, "CREDIT_DATA_DIR": str(tmp), "CREDIT_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "services.credit.app:create_app",
            "--factory",
            "--port",
            "8791",
            "--log-level",
            "warning",
        ],
        env=env,
    )
    base = "http://127.0.0.1:8791"
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{base}/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        units = _units(args.units)
        body = json.dumps({"items": units}, ensure_ascii=False).encode()
        with httpx.Client(base_url=base, headers={**headers, "content-type": "application/json"}, timeout=120) as c:
            t = time.perf_counter()
            first = c.post("/v1/units:bulk-upsert", content=body)
            bulk_new = time.perf_counter() - t
            t = time.perf_counter()
            second = c.post("/v1/units:bulk-upsert", content=body)
            bulk_same = time.perf_counter() - t
            hello = []
            for _ in range(args.gets):
                t = time.perf_counter()
                c.get("/healthz")
                hello.append(time.perf_counter() - t)
            usccs = [str(u["uscc"]) for u in units[: args.gets]]
            c.get(f"/v1/units/{usccs[0]}")
            times = []
            for uscc in usccs:
                t = time.perf_counter()
                r = c.get(f"/v1/units/{uscc}")
                times.append(time.perf_counter() - t)
                assert r.status_code == 200
        raw = asyncio.run(_raw(url, usccs, units))
        result = {
            "units": args.units,
            "bulk_created": first.json()["counts"],
            "bulk_unchanged": second.json()["counts"],
            "bulk_upsert_new_s": round(bulk_new, 3),
            "bulk_upsert_unchanged_s": round(bulk_same, 3),
            "bulk_rows_per_s": round(args.units / bulk_new),
            "raw_copy_10k_s": round(raw["raw_copy_10k_s"], 4),
            "gets": args.gets,
            "get_total_s": round(sum(times), 3),
            "get_mean_ms": round(statistics.mean(times) * 1e3, 3),
            "get_p50_ms": round(_pct(times, 0.5) * 1e3, 3),
            "get_p99_ms": round(_pct(times, 0.99) * 1e3, 3),
            "healthz_mean_ms": round(statistics.mean(hello) * 1e3, 3),
            "raw_get_mean_ms": round(raw["raw_get_mean_ms"], 3),
            "raw_get_p99_ms": round(raw["raw_get_p99_ms"], 3),
            "get_vs_raw_ratio": round(statistics.mean(times) * 1e3 / raw["raw_get_mean_ms"], 1),
            "bulk_vs_copy_ratio": round(bulk_new / raw["raw_copy_10k_s"], 1),
            "database": "local server" if server.startswith("postgresql://postgres@127.0.0.1") else "embedded",
        }
        print(json.dumps(result, ensure_ascii=False, indent=2))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
