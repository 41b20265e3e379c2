"""Quarantined rows are listed, fixed (field by field, in contract field names) and replayed as a run
of their own: the same validation, diff, guard and forwarding as any feed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg

from services.sharing.feeds.mapping import CONTRACT_FIELDS, Mapping
from services.sharing.feeds.readers import Manifest, SourceRow
from services.sharing.ingest.service import FeedSpec, IngestJob, IngestOptions, IngestStop
from services.sharing.quarantine import repository as repo


class QuarantineError(ValueError):
    pass


def fix_row(conn: psycopg.Connection[Any], row_id: int, changes: dict[str, str]) -> dict[str, Any]:
    row = repo.get_row(conn, row_id)
    if row is None:
        raise QuarantineError(f"no quarantined row {row_id}")
    unknown = sorted(set(changes) - set(CONTRACT_FIELDS))
    if unknown:
        raise QuarantineError(f"not contract fields: {', '.join(unknown)}; fields: {', '.join(CONTRACT_FIELDS)}")
    if row["raw"] is None and not {"uscc", "name", "reg_status"} <= set(changes):
        raise QuarantineError(
            f"row {row_id} ({row['reason']}) could not be split into fields; give at least uscc, name and "
            "reg_status (and any other field) to rebuild it")
    fix = {**(row["fix"] or {}), **changes}
    with conn.transaction():
        repo.set_fix(conn, row_id, fix)
    return {**row, "fix": fix, "status": "fixed"}


def replay(job: IngestJob, database_url: str, mapping: Mapping, *, run_id: int | None = None) -> dict[str, Any]:
    """Replay every fixed row (of one run, or all): rows that now pass are applied and forwarded."""
    url = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as conn:
        rows = repo.list_rows(conn, run_id=run_id, status="fixed", limit=100_000)
    if not rows:
        raise IngestStop(0, "skipped", "no fixed quarantined rows to replay")
    identity = {f: f for f in CONTRACT_FIELDS}

    def source_rows() -> Iterator[SourceRow]:
        for r in rows:
            values = {**(r["raw"] or {}), **(r["fix"] or {})}
            # raw values are in contract field names: read them through an identity mapping
            def get(f: str, values: dict[str, Any] = values) -> str:
                v = values.get(identity.get(f, f))
                return "" if v is None else str(v)

            yield SourceRow(int(r["id"]), "", get=get)

    spec = FeedSpec(source="quarantine-replay", mapping=mapping, manifest=Manifest(kind="replay"), rows=source_rows,
                    label=f"quarantine replay of {len(rows)} fixed rows")
    result = job.run(spec, IngestOptions(force=True))
    with psycopg.connect(url) as conn, conn.transaction():
        still_bad = {int(q["line"]) for q in repo.list_rows(conn, run_id=int(result["id"]), status=None,
                                                            limit=100_000)}
        repo.mark_replayed(conn, [int(r["id"]) for r in rows if int(r["id"]) not in still_bad], int(result["id"]))
    return result
