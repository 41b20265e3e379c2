"""The forwarder's range reads: pending rows only, the range on both sides, and no transaction left
open while batches wait for credit."""

from __future__ import annotations

import psycopg
from psycopg.pq import TransactionStatus

from services.sharing.ingest import repository as repo

_UNIT = """INSERT INTO sharing.registry (uscc, name, unit_type, reg_status, reg_status_label, region_code,
                                        content_hash, source, source_location, source_line, received_at,
                                        run_id, first_seen_run, first_seen_at, established_on)
           VALUES (%s, '延吉市测试商店', 'enterprise', 'operating', '存续', '222401', %s, 'samr', 'f.csv', 2,
                   now(), 1, 1, now(), DATE '2001-02-03')"""


def test_pending_ranges_stream_without_an_open_transaction(sharing_db: str) -> None:
    usccs = [f"91222401MA{i:07d}X" for i in range(30)]
    with psycopg.connect(sharing_db) as setup:
        for u in usccs:
            setup.execute(_UNIT, (u, u.encode()))
        # acknowledged with the same content: not pending; with an older content: pending again
        setup.execute("INSERT INTO sharing.forward_state (uscc, forwarded_hash) VALUES (%s, %s), (%s, %s)",
                      (usccs[3], usccs[3].encode(), usccs[4], b"older"))
        setup.execute("INSERT INTO sharing.forward_state (uscc, rejected_hash) VALUES (%s, %s)",
                      (usccs[5], usccs[5].encode()))
    url = sharing_db.replace("postgresql+psycopg://", "postgresql://")
    with repo.connect(url, "forward-reader-test") as reader:
        with repo.pending_cursor(reader, usccs[1], usccs[20]) as cursor:
            first = cursor.fetchmany(5)
            # the forwarder waits for credit here: the reader holds no transaction meanwhile
            assert reader.info.transaction_status == TransactionStatus.IDLE
            with psycopg.connect(url) as other:
                state = other.execute("SELECT state FROM pg_stat_activity WHERE application_name = %s",
                                      ("forward-reader-test",)).fetchone()
            assert state == ("idle",)
            rest = cursor.fetchall()
        got = sorted(r[repo.PENDING_COLUMNS.index("uscc")] for r in [*first, *rest])
        assert got == [u for u in usccs[2:21] if u not in (usccs[3], usccs[5])]
        assert {r[repo.PENDING_COLUMNS.index("established_on")] for r in first} == {"2001-02-03"}
        with repo.pending_cursor(reader, usccs[25], None) as cursor:
            assert sorted(r[0] for r in cursor.fetchall()) == usccs[26:]
