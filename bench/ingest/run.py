"""Ingest benchmark: a 1,000,000-row GB18030 (GBK) CSV full snapshot, then a 50,000-row delta,
end to end (read, validate, stage, diff, merge, forward to a real credit service), beside a raw
PostgreSQL COPY of the same file measured in the same run.

    .venv/bin/python bench/ingest/run.py                 # 1,000,000 rows + 50,000 delta
    .venv/bin/python bench/ingest/run.py --size 100000   # a quicker look

Needs PostgreSQL (BENCH_DATABASE_URL, else the machine's 127.0.0.1:5432, else the embedded server).
Peak RSS is the ingest process and its validation worker processes together (sampled every 100 ms).
Writes bench/out/ingest-<size>.json and prints a table.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pathlib
import socket
import subprocess
import sys
import time
from typing import Any

import httpx
import orjson
import psutil
import psycopg

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from services.kit import pgserver  # noqa: E402
from services.kit.migrate import upgrade  # noqa: E402
from services.sharing.simulator.generate import SAMR_COLUMNS, Registry, write_feed  # noqa: E402

SECRET = "bench-sharing-sync-secret-0123456789"


def server_url() -> str:
    url = os.environ.get("BENCH_DATABASE_URL") or pgserver.local_server_url()
    if url:
        return url
    return pgserver.embedded_server_url(ROOT / "bench" / "out" / "pg")


def raw_copy(url: str, path: pathlib.Path) -> dict[str, float]:
    cols = ", ".join(f'"{c}" text' for c in SAMR_COLUMNS)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_raw_copy")
        conn.execute(f"CREATE TABLE bench_raw_copy ({cols})")
        started = time.perf_counter()
        with conn.cursor() as cur, cur.copy(
            "COPY bench_raw_copy FROM STDIN (FORMAT csv, HEADER true, ENCODING 'GB18030')"
        ) as copy, path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                copy.write(chunk)
        elapsed = time.perf_counter() - started
        row = conn.execute("SELECT count(*) FROM bench_raw_copy").fetchone()
        conn.execute("DROP TABLE bench_raw_copy")
    rows = int(row[0]) if row else 0
    return {"rows": rows, "seconds": round(elapsed, 2), "rows_per_s": round(rows / elapsed)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_credit(url: str, data_dir: pathlib.Path, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    env = {**os.environ, "CREDIT_DATABASE_URL": url, "CREDIT_DATA_DIR": str(data_dir)}
    subprocess.run([sys.executable, "-m", "services.credit.cli", "clients", "create", "--id", "sharing-sync",
                    "--department", "samr-feed", "--scopes", "units:write", "units:read", "--secret", SECRET],
                   env=env, check=True, capture_output=True, cwd=ROOT)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "services.credit.cli", "serve", "--port", str(port),
                             "--workers", str(workers)], env=env,
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            with httpx.Client(timeout=1) as http:
                if http.get(base + "/v1/oauth/jwks").status_code == 200:
                    return proc, base
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("credit did not start")


def ingest(path: pathlib.Path, sharing_url: str, credit_base: str | None) -> dict[str, Any]:
    env = {**os.environ, "SHARING_DATABASE_URL": sharing_url, "SHARING_CREDIT_CLIENT_SECRET": SECRET,
           "SHARING_CREDIT_URL": credit_base or "http://127.0.0.1:9"}
    cmd = [sys.executable, "-m", "services.sharing.cli", "ingest", str(path), "--json", "--quiet"]
    if credit_base is None:
        cmd.append("--no-forward")
    started = time.perf_counter()
    log = (ROOT / "bench" / "out" / "ingest.log").open("wb")
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=log)
    watched = psutil.Process(proc.pid)
    peak = 0
    chunks: list[bytes] = []
    import threading

    reader = threading.Thread(target=lambda: chunks.append(proc.stdout.read() if proc.stdout else b""))
    reader.start()
    children: list[psutil.Process] = []
    listed = 0.0
    while proc.poll() is None:
        try:
            # the ingest process and its validation workers together; listing the children walks every
            # process of the machine, so it is done once a second and only their RSS ten times a second
            # (the sampling itself takes CPU from the run it measures)
            if time.perf_counter() - listed > 1.0:
                children = watched.children(recursive=True)
                listed = time.perf_counter()
            rss = watched.memory_info().rss
            for child in children:
                with contextlib.suppress(psutil.Error):
                    rss += child.memory_info().rss
            peak = max(peak, rss)
        except psutil.Error:
            break
        time.sleep(0.1)
    reader.join()
    elapsed = time.perf_counter() - started
    log.close()
    if proc.returncode != 0:
        raise RuntimeError(f"ingest exited {proc.returncode}; see bench/out/ingest.log")
    report = orjson.loads(b"".join(chunks))
    peak_kb = peak / 1024
    rows = report["rows_read"]
    return {"rows": rows, "seconds": round(elapsed, 2), "rows_per_s": round(rows / elapsed),
            "peak_rss_mb": round(peak_kb / 1024, 1),  # process tree
            "timings": report["timings"], "new": report["new"], "changed": report["changed"],
            "status_changed": report["status_changed"], "forwarded": report["forwarded"],
            "quarantined": report["quarantined"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--delta-changes", type=float, default=0.04, help="share of units the delta changes")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--credit-workers", type=int, default=2,
                        help="credit API worker processes (stateless replicas; default 2, one per core)")
    parser.add_argument("--skip-mirror-only", action="store_true", help="skip the --no-forward run (quicker look)")
    args = parser.parse_args()
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    reg = Registry(seed=args.seed, size=args.size, change_rate=args.delta_changes)
    full = out / f"full-{args.size}.gbk.csv"
    delta = out / f"delta1-{args.size}.csv"
    t = time.perf_counter()
    if not full.exists():
        write_feed(full, reg.full(0), encoding="gb18030", kind="full", sequence=0)
    if not delta.exists():
        write_feed(delta, reg.delta(1), encoding="gb18030", kind="delta", sequence=1, base_sequence=0)
    print(f"feeds ready in {time.perf_counter() - t:.0f} s: {full.stat().st_size / 1e6:.0f} MB", file=sys.stderr)

    server = server_url()
    results: dict[str, Any] = {"size": args.size, "machine": f"{os.cpu_count()} cores",
                               "credit_workers": args.credit_workers}
    results["raw_copy"] = raw_copy(server, full)
    print("raw COPY", results["raw_copy"], file=sys.stderr)

    if not args.skip_mirror_only:
        mirror_only = pgserver.ensure_database(server, "bench_sharing_mirror", recreate=True)
        upgrade("sharing", mirror_only)
        results["full_mirror_only"] = ingest(full, mirror_only, None)
        print("full, mirror only", results["full_mirror_only"], file=sys.stderr)

    sharing = pgserver.ensure_database(server, "bench_sharing", recreate=True)
    credit_db = pgserver.ensure_database(server, "bench_credit", recreate=True)
    upgrade("sharing", sharing)
    upgrade("credit", credit_db)
    proc, base = start_credit(credit_db, out / "credit-dev", args.credit_workers)
    try:
        results["full_end_to_end"] = ingest(full, sharing, base)
        print("full, end to end", results["full_end_to_end"], file=sys.stderr)
        results["delta_end_to_end"] = ingest(delta, sharing, base)
        print("delta, end to end", results["delta_end_to_end"], file=sys.stderr)
    finally:
        proc.terminate()
        proc.wait()
    copy_rate = results["raw_copy"]["rows_per_s"]
    for key in ("full_mirror_only", "full_end_to_end"):
        if key in results:
            results[key]["share_of_raw_copy"] = round(results[key]["rows_per_s"] / copy_rate, 3)
    (out / f"ingest-{args.size}.json").write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    print(orjson.dumps(results, option=orjson.OPT_INDENT_2).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
