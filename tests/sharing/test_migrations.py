"""sharing's migration chain: up, down and up again, and the acknowledgements carried across s0002."""

from __future__ import annotations

import psycopg

from services.kit import migrate
from tests.conftest import drop_database, fresh_database

_UNIT = """INSERT INTO sharing.registry (uscc, name, unit_type, reg_status, reg_status_label, region_code, content_hash,
                                       source, source_location, source_line, received_at, run_id, first_seen_run,
                                       first_seen_at{extra})
           VALUES (%s, '延吉市测试商店', 'enterprise', 'operating', '存续', '222401', %s, 'samr', 'f.csv', 2, now(),
                   1, 1, now(){values})"""


def test_acknowledgements_survive_the_move_to_forward_state_and_back(pg_server_url: str) -> None:
    url = fresh_database(pg_server_url, "sharing_migrations")
    try:
        migrate.upgrade("sharing", url, "s0001")
        with psycopg.connect(url) as conn:
            conn.execute(_UNIT.format(extra=", forwarded_hash, forward_version, forwarded_at",
                                      values=", %s, 3, now()"), ("91222401MA0000001A", b"h1", b"h1"))
            conn.execute(_UNIT.format(extra=", rejected_hash", values=", %s"), ("91222401MA0000002A", b"h2", b"h2"))
            conn.execute(_UNIT.format(extra="", values=""), ("91222401MA0000003A", b"h3"))
        migrate.upgrade("sharing", url)
        assert migrate.current_revision("sharing", url, "sharing") == migrate.head_revision("sharing", url)
        with psycopg.connect(url) as conn:
            state = conn.execute("SELECT uscc, forwarded_hash, forward_version, rejected_hash"
                                 " FROM sharing.forward_state ORDER BY uscc").fetchall()
            assert state == [("91222401MA0000001A", b"h1", 3, None), ("91222401MA0000002A", None, None, b"h2")]
            columns = {r[0] for r in conn.execute(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_schema = 'sharing' AND table_name = 'registry'").fetchall()}
            assert "forwarded_hash" not in columns
        migrate.downgrade("sharing", url, "s0001")
        with psycopg.connect(url) as conn:
            back = conn.execute("SELECT uscc, forwarded_hash, forward_version, rejected_hash"
                                " FROM sharing.registry ORDER BY uscc").fetchall()
        assert back == [("91222401MA0000001A", b"h1", 3, None), ("91222401MA0000002A", None, None, b"h2"),
                        ("91222401MA0000003A", None, None, None)]
        migrate.downgrade("sharing", url, "base")
        with psycopg.connect(url) as conn:
            left = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'sharing'"
                                " AND tablename <> 'alembic_version'").fetchone()
        assert left == (0,)
        migrate.upgrade("sharing", url)
    finally:
        drop_database(pg_server_url, url)
