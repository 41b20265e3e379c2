"""The database's own floor under the ingest: what PostgreSQL alone spends writing the rows that a full
snapshot must leave behind (sharing's mirror; credit's units, their persons and change-feed entries),
with the indexes each table has, and no Python, HTTP or validation at all. Beside it, the raw COPY
of the same feed file, in the same run.

    .venv/bin/python bench/ingest/run.py --skip-mirror-only   # fills bench_sharing and bench_credit
    .venv/bin/python bench/ingest/floor.py                    # then this

Each table is copied with `INSERT INTO scratch SELECT * FROM table`, into a scratch table created
`LIKE table INCLUDING ALL` (same columns, indexes and storage) in the same database, one after the
other on one connection; the scratch tables are dropped. Reading the source rows is part of each
measure (a COPY would parse text instead). The two-core figure halves the serial sum: the most that
two cores could overlap. Writes bench/out/ingest-floor.json and prints it.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time
from typing import Any

import orjson
import psycopg

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.ingest.run import raw_copy, server_url  # noqa: E402
from services.kit import pgserver  # noqa: E402

TABLES = (
    ("bench_sharing", "sharing.registry"),
    ("bench_credit", "credit.units"),
    ("bench_credit", "credit.unit_persons"),
    ("bench_credit", "credit.changes"),
)


def copy_cost(url: str, table: str) -> dict[str, Any]:
    scratch = "public.floor_" + table.replace(".", "_")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {scratch}")
        conn.execute(f"CREATE TABLE {scratch} (LIKE {table} INCLUDING ALL)")
        indexes = conn.execute("SELECT count(*) FROM pg_indexes WHERE schemaname || '.' || tablename = %s",
                               (table,)).fetchone()
        conn.execute("CHECKPOINT")
        started = time.perf_counter()
        rows = conn.execute(f"INSERT INTO {scratch} SELECT * FROM {table}").rowcount
        elapsed = time.perf_counter() - started
        conn.execute(f"DROP TABLE {scratch}")
    return {"table": table, "rows": rows, "indexes": int(indexes[0]) if indexes else 0, "seconds": round(elapsed, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=1_000_000, help="the feed run.py made (bench/out/full-<size>)")
    args = parser.parse_args()
    feed = ROOT / "bench" / "out" / f"full-{args.size}.gbk.csv"
    if not feed.exists():
        parser.error(f"{feed} is missing: run bench/ingest/run.py --size {args.size} first")
    server = server_url()
    tables = [copy_cost(pgserver.with_database(server, db), table) for db, table in TABLES]
    copy = raw_copy(server, feed)
    serial = sum(t["seconds"] for t in tables)
    result = {
        "raw_copy": copy,
        "tables": tables,
        "floor_serial_s": round(serial, 2),
        "floor_two_cores_s": round(serial / 2, 2),
        "floor_two_cores_share_of_raw_copy": round(copy["seconds"] / (serial / 2), 3),
        "budget_at_30_percent_s": round(copy["seconds"] / 0.3, 2),
    }
    out = ROOT / "bench" / "out" / "ingest-floor.json"
    out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
