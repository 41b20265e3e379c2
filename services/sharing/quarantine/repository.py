"""SQL of the quarantine: list, fix, mark replayed (psycopg, used by the CLI and the job)."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb


def list_rows(conn: psycopg.Connection[Any], *, run_id: int | None = None, reason: str | None = None,
              status: str | None = "open", limit: int = 100, after_id: int = 0) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            """SELECT id, run_id, source, location, line, stage, reason, field, detail, uscc, raw_text, raw, fix,
                      status, created_at, resolved_at, resolved_run
               FROM sharing.quarantine
               WHERE id > %(after)s AND (%(run)s::bigint IS NULL OR run_id = %(run)s)
                 AND (%(reason)s::text IS NULL OR reason = %(reason)s)
                 AND (%(status)s::text IS NULL OR status = %(status)s)
               ORDER BY id LIMIT %(limit)s""",
            {"after": after_id, "run": run_id, "reason": reason, "status": status, "limit": limit},
        ).fetchall()


def get_row(conn: psycopg.Connection[Any], row_id: int) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute("SELECT * FROM sharing.quarantine WHERE id = %s", (row_id,)).fetchone()


def set_fix(conn: psycopg.Connection[Any], row_id: int, fix: dict[str, str]) -> None:
    conn.execute("UPDATE sharing.quarantine SET fix = %s, status = 'fixed' WHERE id = %s", (Jsonb(fix), row_id))


def dismiss(conn: psycopg.Connection[Any], row_id: int) -> None:
    conn.execute("UPDATE sharing.quarantine SET status = 'dismissed', resolved_at = now() WHERE id = %s", (row_id,))


def mark_replayed(conn: psycopg.Connection[Any], ids: list[int], run_id: int) -> None:
    conn.execute(
        "UPDATE sharing.quarantine SET status = 'replayed', resolved_at = now(), resolved_run = %s"
        " WHERE id = ANY(%s)",
        (run_id, ids),
    )
