"""Recording, sealing, verifying and exporting the audit trail (brief §6, X-Road's message log)."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.credit.audit import chain
from services.credit.audit import repository as repo
from services.kit.groupcommit import GroupWriter

# small batches: the sealer runs inside a serving process and must not hold its event loop for long
SEAL_BATCH = 1000


@dataclass(frozen=True)
class AuditKeys:
    algorithm: str
    key: bytes


def prepared(keys: AuditKeys, entry: dict[str, Any]) -> dict[str, Any]:
    entry = {**entry, "at": entry.get("at") or dt.datetime.now(dt.UTC)}
    for name in ("user_id", "case_id", "purpose"):
        entry[name] = chain.clip_and_mask(entry.get(name))
    entry["row_hash"] = chain.entry_hash(keys.algorithm, entry)
    return entry


class AuditWriter:
    """The audit trail's group commit (services/kit/groupcommit.py): no answer leaves before its
    entry is committed, and entries that arrive together share one statement and one commit."""

    def __init__(self, dsn: str, keys: AuditKeys, *, max_batch: int = 1000) -> None:
        self.keys = keys
        self._group = GroupWriter(dsn, repo.insert_entries, application_name="credit-audit", max_batch=max_batch)

    async def record(self, entry: dict[str, Any]) -> None:
        await self._group.record(prepared(self.keys, entry))

    async def close(self) -> None:
        await self._group.close()


async def seal(session: AsyncSession, keys: AuditKeys) -> int:
    """Link every finished, unsealed entry into the chain; one sealer at a time (advisory lock)."""
    if not await repo.take_sealer_lock(session):
        return 0
    last = await repo.last_seal(session)
    position = last.position if last else 0
    previous = last.chain_hash if last else chain.GENESIS
    txid, entry_id = (int(last.audit_txid), last.audit_id) if last else (0, 0)
    sealed = 0
    while True:
        rows = await repo.pending(session, txid=txid, entry_id=entry_id, limit=SEAL_BATCH)
        if not rows:
            return sealed
        seals = []
        for row in rows:
            position += 1
            previous = chain.next_link(keys.algorithm, keys.key, previous, row.row_hash)
            seals.append(
                {
                    "position": position,
                    "audit_id": row.id,
                    "audit_txid": int(row.txid),
                    "chain_hash": previous,
                    "algorithm": keys.algorithm,
                }
            )
            txid, entry_id = int(row.txid), row.id
        await repo.add_seals(session, seals)
        sealed += len(seals)
        await asyncio.sleep(0)  # let waiting requests run between batches


@dataclass
class Verification:
    checked: int = 0
    unsealed: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems


async def verify(session: AsyncSession, keys: AuditKeys) -> Verification:
    """Recompute every entry hash and every chain link: an edited, deleted or reordered entry, or
    a removed seal, shows up as a problem at its position."""
    report = Verification()
    previous, expected_position = chain.GENESIS, 1
    while True:
        rows = await repo.seals_with_entries(session, after_position=expected_position - 1, limit=SEAL_BATCH)
        if not rows:
            break
        for row in rows:
            if row.position != expected_position:
                report.problems.append(f"seal positions {expected_position}..{row.position - 1} are missing")
                expected_position = row.position
            if row.id is None:
                report.problems.append(f"position {row.position}: entry {row.audit_id} was deleted")
            else:
                entry = {name: getattr(row, name) for name in chain.ENTRY_FIELDS}
                recomputed = chain.entry_hash(row.algorithm, entry)
                if recomputed != bytes(row.row_hash):
                    report.problems.append(f"position {row.position}: entry {row.audit_id} was edited")
                link = chain.next_link(row.algorithm, keys.key, previous, recomputed)
                if link != bytes(row.chain_hash):
                    report.problems.append(
                        f"position {row.position}: chain broken (entry {row.audit_id} edited, moved or replaced)"
                    )
            previous = bytes(row.chain_hash)
            expected_position += 1
            report.checked += 1
    report.unsealed = await repo.unsealed_count(session)
    return report


EXPORT_COLUMNS = [
    ("at", "时间 time (UTC)"),
    ("client_id", "调用方 client"),
    ("department", "部门 department"),
    ("user_id", "经办人 user"),
    ("case_id", "案件 case"),
    ("purpose", "用途 purpose"),
    ("operation", "操作 operation"),
    ("method", "方法 method"),
    ("path", "请求 request"),
    ("status", "结果 status"),
    ("subject_uscc", "单位 USCC"),
    ("request_id", "请求号 request id"),
    ("result_digest", "应答摘要 answer digest"),
]


async def export_csv(session: AsyncSession, *, case_id: str | None, uscc: str | None) -> str:
    """What was asked, what was answered (digest), by whom, for one case or one unit: a CSV with a
    BOM so that spreadsheet programs open the Chinese headers correctly."""
    rows = await repo.entries_for(session, case_id=case_id, uscc=uscc)
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow([label for _, label in EXPORT_COLUMNS])
    for row in rows:
        writer.writerow(
            [
                row.at.astimezone(dt.UTC).isoformat() if name == "at" else getattr(row, name)
                for name, _ in EXPORT_COLUMNS
            ]
        )
    return out.getvalue()
