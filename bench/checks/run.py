"""Bench of issue 3 on this machine: server, PostgreSQL and load generator share its cores.

  .venv/bin/python -m bench.checks.load            # once: 1,000,000 units, 3,000,000 records, graded
  .venv/bin/python -m bench.checks.run             # hello-world, unit GET, single check, 10,000 batch, pgbench

Each HTTP figure is wrk (-c 32, 2 threads) against uvicorn with 2 workers; pgbench -S -M prepared -c 32
runs in the same run. Prints one JSON object (also written to bench/out/checks-bench.json).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from services.credit.settings import CreditSettings
from services.kit import migrate
from services.kit.auth import TokenService, ensure_dev_keyset

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable


def uscc(i: int) -> str:
    return f"91222401{i:09d}X"


def _wait(url: str, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not come up")


def _server(app: str, port: int, env: dict[str, str], factory: bool, workers: int) -> subprocess.Popen[bytes]:
    cmd = [
        PY,
        "-m",
        "uvicorn",
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    if factory:
        cmd.append("--factory")
    return subprocess.Popen(cmd, cwd=ROOT, env=env)


LUA_GET = """
math.randomseed(os.time() + math.floor(os.clock() * 1000000))
request = function()
  local path = string.format("/v1/units/91222401%09dX", math.random(1, {n}))
  return wrk.format("GET", path, {["Authorization"] = "Bearer {token}"})
end
"""
LUA_CHECK = """
math.randomseed(os.time() + math.floor(os.clock() * 1000000))
request = function()
  local body = string.format('{"uscc":"91222401%09dX","scenario":"land_use_approval","case_ref":"BENCH-1",'
    .. '"purpose":"bench","officer":"bench-officer"}', math.random(1, {n}))
  return wrk.format("POST", "/v1/credit-checks",
    {["Authorization"] = "Bearer {token}", ["Content-Type"] = "application/json"}, body)
end
"""


def _wrk(url: str, seconds: int, conns: int, script: str | None = None) -> dict[str, Any]:
    cmd = ["wrk", "-t2", f"-c{conns}", f"-d{seconds}s", "--latency"]
    if script:
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
            f.write(script)
        cmd += ["-s", f.name]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def pct(p: str) -> float:
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        if not m:
            return float("nan")
        value, unit = float(m.group(1)), m.group(2)
        return round(value / 1000 if unit == "us" else value * 1000 if unit == "s" else value, 2)

    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": round(rps),
        "p50_ms": pct("50"),
        "p99_ms": pct("99"),
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors.group(1) if errors else None,
    }


def _pgbench(server: str, seconds: int) -> dict[str, Any]:
    db = "pgbench_checks"
    base = ["-h", "127.0.0.1", "-U", "postgres"]
    exists = subprocess.run(
        ["psql", *base, "-tAc", f"SELECT 1 FROM pg_database WHERE datname = '{db}'"], capture_output=True, text=True
    ).stdout.strip()
    if not exists:
        subprocess.run(["createdb", *base, db], check=True)
        subprocess.run(["pgbench", *base, "-i", "-s", "10", "-q", db], check=True, capture_output=True)
    out = subprocess.run(
        ["pgbench", *base, "-S", "-M", "prepared", "-c", "32", "-j", "2", "-T", str(seconds), db],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    tps = float(re.search(r"tps = ([\d.]+)", out).group(1))  # type: ignore[union-attr]
    lat = re.search(r"latency average = ([\d.]+) ms", out)
    return {"tps": round(tps), "latency_avg_ms": float(lat.group(1)) if lat else None}


async def _check_path(url: str, units: int, n: int = 5000, conc: int = 32) -> dict[str, Any]:
    """The check path alone (read, compose, insert) in one process without HTTP, 32 concurrent tasks:
    what the service layer costs, apart from the web stack and the request audit."""
    import asyncpg

    from services.credit.checks import service
    from services.credit.common.types import today_in_china
    from services.credit.measures.catalogue import default_catalogue
    from services.credit.policy.checks_model import default_checks_policy

    pool = await asyncpg.create_pool(url, min_size=conc, max_size=conc)
    cat, pol, today = default_catalogue(), default_checks_policy(), today_in_china()
    latencies: list[float] = []

    async def one(i: int) -> None:
        req = service.CheckRequest(
            uscc(1 + (i * 7919) % units), "land_use_approval", "BENCH-2", "bench", "bench", "bench", "bench", False
        )
        t = time.perf_counter()
        async with pool.acquire() as conn:
            await service.check_one(conn, req, today=today, policy=pol, catalogue=cat)
        latencies.append((time.perf_counter() - t) * 1000)

    sem = asyncio.Semaphore(conc)

    async def guarded(i: int) -> None:
        async with sem:
            await one(i)

    t0 = time.perf_counter()
    await asyncio.gather(*(guarded(i) for i in range(n)))
    elapsed = time.perf_counter() - t0
    await pool.close()
    latencies.sort()
    return {
        "checks_per_s": round(n / elapsed),
        "p50_ms": round(latencies[n // 2], 2),
        "p99_ms": round(latencies[int(n * 0.99)], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/credit_bench")
    parser.add_argument("--units", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--batches", type=int, default=5)
    args = parser.parse_args()

    migrate.upgrade("credit", args.url)
    data_dir = Path(tempfile.mkdtemp(prefix="checks-bench-"))
    settings = CreditSettings(mode="development", database_url=args.url, data_dir=data_dir)
    keys = ensure_dev_keyset(settings.keys_file)
    tokens = TokenService(keys=keys, issuer=settings.issuer, audience=settings.audience, lifetime_seconds=3600)
    token, _ = tokens.issue(
        client_id="bench", department="yanji-land-bureau", scopes=["units:read", "checks:write", "checks:read"]
    )
    env = {
        **os.environ,
        "CREDIT_DATABASE_URL": args.url,
        "CREDIT_DATA_DIR": str(data_dir),
        "CREDIT_LOG_LEVEL": "WARNING",
        "CREDIT_DB_POOL_SIZE": "20",
        "CREDIT_RATE_LIMIT_PER_MINUTE": "100000000",
    }
    hello = _server("bench.checks.hello:app", 8102, env, factory=False, workers=2)
    credit = _server("services.credit.app:create_app", 8101, env, factory=True, workers=2)
    result: dict[str, Any] = {"units": args.units, "cpu_count": os.cpu_count()}
    try:
        _wait("http://127.0.0.1:8102/hello")
        _wait("http://127.0.0.1:8101/healthz")
        h = {"Authorization": f"Bearer {token}"}
        # warm both workers' pools and caches
        for i in range(200):
            httpx.post(
                "http://127.0.0.1:8101/v1/credit-checks",
                headers=h,
                json={
                    "uscc": uscc(i + 1),
                    "scenario": "land_use_approval",
                    "case_ref": "W",
                    "purpose": "warm",
                    "officer": "w",
                },
            )
            httpx.get(f"http://127.0.0.1:8101/v1/units/{uscc(i + 1)}", headers=h)
        s = args.seconds
        result["hello_world"] = _wrk("http://127.0.0.1:8102/hello", s, 32)
        result["unit_get"] = _wrk(
            "http://127.0.0.1:8101", s, 32, LUA_GET.replace("{n}", str(args.units)).replace("{token}", token)
        )
        result["single_check"] = _wrk(
            "http://127.0.0.1:8101", s, 32, LUA_CHECK.replace("{n}", str(args.units)).replace("{token}", token)
        )
        times, stream_times = [], []
        with httpx.Client(timeout=60) as client:
            for _ in range(args.batches):
                picks = random.sample(range(1, args.units + 1), min(10_000, args.units))
                body = {
                    "usccs": [uscc(i) for i in picks],
                    "scenario": "financial_support",
                    "case_ref": "BANK-BOOK",
                    "purpose": "loan book",
                    "officer": "bench",
                }
                t = time.perf_counter()
                r = client.post("http://127.0.0.1:8101/v1/credit-checks:batch", json=body, headers=h)
                times.append(time.perf_counter() - t)
                assert r.status_code == 200, r.text[:300]
                t = time.perf_counter()
                with client.stream(
                    "POST",
                    "http://127.0.0.1:8101/v1/credit-checks:batch",
                    json=body,
                    headers={**h, "Accept": "application/x-ndjson"},
                ) as sr:
                    lines = sum(1 for _ in sr.iter_lines())
                stream_times.append(time.perf_counter() - t)
                assert lines == len(picks), lines
        result["batch_10000"] = {
            "median_s": round(statistics.median(times), 3),
            "min_s": round(min(times), 3),
            "max_s": round(max(times), 3),
            "jsonl_median_s": round(statistics.median(stream_times), 3),
        }
    finally:
        for p in (hello, credit):
            p.terminate()
            p.wait(10)
    result["check_path_in_process"] = asyncio.run(_check_path(args.url, args.units))
    # pgbench after the servers let go of their connections (max_connections), in the same run
    result["pgbench_select_only"] = _pgbench("127.0.0.1", args.seconds)
    if "batch_10000" in result:
        hw = result["hello_world"]["rps"]
        result["ratios"] = {
            "single_check_vs_hello": round(result["single_check"]["rps"] / hw, 4),
            "unit_get_vs_hello": round(result["unit_get"]["rps"] / hw, 4),
        }
        result["targets"] = {
            "single_check_ge_1000_rps": result["single_check"]["rps"] >= 1000,
            "single_check_p99_lt_50ms": result["single_check"]["p99_ms"] < 50,
            "single_check_ge_1_15_hello": result["ratios"]["single_check_vs_hello"] >= 1 / 15,
            "unit_get_ge_1_4_hello": result["ratios"]["unit_get_vs_hello"] >= 1 / 4,
            "batch_lt_1s": result["batch_10000"]["median_s"] < 1.0,
        }
    out = json.dumps(result, indent=2, ensure_ascii=False)
    (ROOT / "bench" / "out").mkdir(exist_ok=True)
    (ROOT / "bench" / "out" / "checks-bench.json").write_text(out + "\n", encoding="utf-8")
    print(out)


if __name__ == "__main__":
    main()
