"""Feed simulator: realistic Yanbian registration feeds in the market-regulation layout.

The registry is a pure function of (seed, size, sequence): sequence 0 is the baseline of `size`
units; each delta `k` registers `new_per_delta` units and changes a share of the existing ones
(address, name, legal representative, re-purposing into a fire-sensitive industry, 注销/吊销).
A full snapshot at sequence `v` is every unit in its state after deltas 1..v, so "full then deltas"
and "a later full" agree, which is what the tests check.

Dirty rows can be injected by class; each class has a known quarantine reason (DIRTY_CLASSES).
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import pathlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import IO

import orjson

from services.kit.synthetic import INDUSTRIES, YanbianGenerator

SAMR_COLUMNS = [
    "uniscid", "entname", "enttypeCn", "lerep", "lerepcerno", "regcap", "estdate", "apprdate", "regorgCn",
    "regorg", "regstateCn", "dom", "opscope", "industryphy", "industryco", "updatetime", "changetype",
]
STATUS_LABELS = {
    "operating": "存续（在营、开业、在册）",
    "licence_revoked": "吊销，未注销",
    "deregistered": "注销",
    "moved_out": "迁出",
}
# dirty class -> the quarantine reason the ingest must give
DIRTY_CLASSES = {
    "bad_checksum": "uscc_checksum",
    "encoding": "encoding",
    "bom_header": "repeated_header",
    "duplicate": "duplicate_uscc",
    "missing_name": "missing_field",
    "truncated": "wrong_column_count",
    "bad_date": "invalid_date",
    "bad_citizen_id": "citizen_id_invalid",
    "unknown_status": "unknown_code",
}
_SENSITIVE = [i for i in INDUSTRIES if i[0][:3] in ("H61", "H62", "R90")]
_BASE_TIME = dt.datetime(2026, 1, 1, 2, 0, tzinfo=dt.UTC)


@dataclass(slots=True)
class SimUnit:
    index: int
    uscc: str
    name: str
    entity_type: str
    legal_rep: str
    legal_rep_id: str
    capital: str
    established: dt.date
    approved: dt.date
    authority: str
    region: str
    status: str
    address: str
    scope: str
    industry: str
    updated: dt.datetime
    change: str


class Registry:
    """The simulated market-regulation registry."""

    def __init__(self, seed: int = 1, size: int = 10_000, *, new_per_delta: int | None = None,
                 change_rate: float = 0.02) -> None:
        self.gen = YanbianGenerator(seed)
        self.size = size
        self.new_per_delta = new_per_delta if new_per_delta is not None else max(1, size // 100)
        self.change_threshold = int(change_rate * 2**32)

    def count_at(self, sequence: int) -> int:
        return self.size + sequence * self.new_per_delta

    def _base(self, index: int, born_in: int) -> SimUnit:
        u = self.gen.unit(index)
        opscope = u.business_scope
        if index % 7 == 0:  # real scopes carry commas, brackets and line breaks
            opscope = (f"一般项目：{opscope}，日用品销售（除依法须经批准的项目外，凭营业执照依法自主开展经营活动）"
                       f"\n许可项目：{opscope}")
        established = u.established_on if born_in == 0 else dt.date(2026, 1, 1) + dt.timedelta(days=born_in)
        return SimUnit(
            index=index, uscc=u.uscc, name=u.name, entity_type=u.entity_type_cn, legal_rep=u.legal_rep_name,
            legal_rep_id=u.legal_rep_id if index % 5 else "", capital=f"{u.registered_capital_wan}万元人民币",
            established=established, approved=established, authority=u.reg_authority, region=u.region_code,
            status="operating", address=u.address, scope=opscope, industry=u.industry_code,
            updated=_BASE_TIME + dt.timedelta(days=born_in), change="new",
        )

    def _born_in(self, index: int) -> int:
        return 0 if index < self.size else (index - self.size) // self.new_per_delta + 1

    def _touched(self, index: int, k: int) -> int | None:
        v = self.gen.variant(index, k)
        return v if v < self.change_threshold else None

    def _apply(self, unit: SimUnit, k: int, v: int) -> SimUnit:
        if unit.status in ("deregistered", "moved_out"):
            return unit
        when = dt.date(2026, 1, 1) + dt.timedelta(days=k)
        kind = v % 10
        out = replace(unit, updated=_BASE_TIME + dt.timedelta(days=k), change="changed", approved=when)
        if kind <= 2:
            out.address = unit.address.rsplit("路", 1)[0].rsplit("街", 1)[0] + f"街{v % 997 + 1}号"
        elif kind == 3:
            renamed = unit.name.replace("有限公司", "集团有限公司")
            out.name = renamed if renamed != unit.name else unit.name + "（分店）"
        elif kind == 4:
            g = self.gen.unit(unit.index + 7_919 * k)
            out.legal_rep, out.legal_rep_id = g.legal_rep_name, g.legal_rep_id
        elif kind == 5:
            code, word, scope, _ = _SENSITIVE[v % len(_SENSITIVE)]
            out.industry, out.scope = code, scope
            out.name = unit.name.rstrip("店") + word if not unit.name.endswith(word) else unit.name
        elif kind == 6:
            out.capital = f"{(v % 90_000) + 10}.{v % 10_000:04d}万元人民币"
        elif kind == 7:
            out.status, out.change = "deregistered", "cancelled"
        elif kind == 8:
            out.status = "licence_revoked"
        else:
            out.scope = unit.scope + "；食品销售"
        return out

    def state(self, index: int, sequence: int) -> SimUnit:
        born = self._born_in(index)
        unit = self._base(index, born)
        for k in range(born + 1, sequence + 1):
            v = self._touched(index, k)
            if v is not None:
                unit = self._apply(unit, k, v)
        return unit

    def full(self, sequence: int = 0) -> Iterator[SimUnit]:
        for i in range(self.count_at(sequence)):
            yield self.state(i, sequence)

    def delta_indices(self, k: int) -> list[int]:
        changed = [i for i in range(self.count_at(k - 1)) if self._touched(i, k) is not None]
        return changed + list(range(self.count_at(k - 1), self.count_at(k)))

    def delta(self, k: int) -> Iterator[SimUnit]:
        if k < 1:
            raise ValueError("deltas start at sequence 1")
        for i in self.delta_indices(k):
            yield self.state(i, k)


def _fmt_date(d: dt.date, index: int) -> str:
    style = index % 3
    if style == 0:
        return d.isoformat()
    if style == 1:
        return f"{d.year}/{d.month}/{d.day}"
    return f"{d:%Y%m%d}"


def samr_row(u: SimUnit) -> list[str]:
    ind = u.industry
    return [
        u.uscc, u.name, u.entity_type, u.legal_rep, u.legal_rep_id, u.capital, _fmt_date(u.established, u.index),
        _fmt_date(u.approved, u.index + 1), u.authority, u.region, STATUS_LABELS[u.status], u.address, u.scope,
        ind[0], ind[1:], u.updated.astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m-%d %H:%M:%S"),
        {"new": "新增", "changed": "变更", "cancelled": "注销"}[u.change],
    ]


def samr_item(u: SimUnit) -> dict[str, str]:
    return dict(zip(SAMR_COLUMNS, samr_row(u), strict=True))


@dataclass
class DirtyPlan:
    """Which dirty classes to inject and how often (one per `every` clean rows, cycling classes)."""

    classes: tuple[str, ...] = ()
    every: int = 1000

    def __post_init__(self) -> None:
        bad = [c for c in self.classes if c not in DIRTY_CLASSES]
        if bad:
            raise ValueError(f"unknown dirty classes: {bad}; known: {sorted(DIRTY_CLASSES)}")


def _dirty_rows(kind: str, u: SimUnit) -> list[list[str] | tuple[str, list[str]]]:
    row = samr_row(u)
    if kind == "bad_checksum":
        last = "0" if row[0][-1] != "0" else "1"
        row[0] = row[0][:-1] + last
        return [row]
    if kind == "encoding":
        return [("gb18030", row)]
    if kind == "bom_header":
        header = list(SAMR_COLUMNS)
        header[0] = "\ufeff" + header[0]
        return [header]
    if kind == "duplicate":
        second = list(row)
        second[11] = row[11] + "（重复）"
        return [row, second]
    if kind == "missing_name":
        row[1] = ""
        return [row]
    if kind == "truncated":
        return [row[:6]]
    if kind == "bad_date":
        row[6] = "2019-02-30"
        return [row]
    if kind == "bad_citizen_id":
        g = u.legal_rep_id or "222401199001011234"
        row[4] = g[:-1] + ("0" if g[-1] != "0" else "1")
        if not row[3]:
            row[3] = "金明"
        return [row]
    if kind == "unknown_status":
        row[10] = "休眠中"
        return [row]
    raise ValueError(kind)


def write_feed(path: pathlib.Path, units: Iterator[SimUnit], *, fmt: str = "csv", encoding: str = "utf-8",
               gzipped: bool = False, dirty: DirtyPlan | None = None, kind: str = "full", sequence: int = 0,
               base_sequence: int | None = None, manifest: bool = True) -> int:
    """Write a feed file (and its `.manifest.json` sidecar); returns the number of records written.

    `encoding`: utf-8, utf-8-sig (with BOM) or gb18030. Dirty rows, when asked for, replace clean
    rows (a dirty unit is not also written clean, except duplicates which are written twice).
    """
    codec = {"utf-8": "utf-8", "utf-8-sig": "utf-8", "gb18030": "gb18030", "gbk": "gb18030"}[encoding]
    raw: IO[bytes] = gzip.open(path, "wb", compresslevel=3) if gzipped else path.open("wb")  # type: ignore[assignment]  # noqa: SIM115
    count = 0
    plan = dirty or DirtyPlan()
    cycle = 0
    try:
        if fmt == "csv":
            if encoding == "utf-8-sig":
                raw.write(b"\xef\xbb\xbf")
            buf = io.StringIO()
            writer = csv.writer(buf, lineterminator="\r\n")
            writer.writerow(SAMR_COLUMNS)
            for n, u in enumerate(units, 1):
                if plan.classes and n % plan.every == 0:
                    cls = plan.classes[cycle % len(plan.classes)]
                    cycle += 1
                    for item in _dirty_rows(cls, u):
                        if isinstance(item, tuple):
                            raw.write(buf.getvalue().encode(codec))
                            buf.seek(0)
                            buf.truncate()
                            other = "gb18030" if codec == "utf-8" else "utf-8"
                            writer.writerow(item[1])
                            raw.write(buf.getvalue().encode(other))
                            buf.seek(0)
                            buf.truncate()
                        else:
                            writer.writerow(item)
                        count += 1
                    continue
                writer.writerow(samr_row(u))
                count += 1
                if n % 5000 == 0:
                    raw.write(buf.getvalue().encode(codec))
                    buf.seek(0)
                    buf.truncate()
            raw.write(buf.getvalue().encode(codec))
        elif fmt == "jsonl":
            lines: list[bytes] = []
            for n, u in enumerate(units, 1):
                if plan.classes and n % plan.every == 0:
                    cls = plan.classes[cycle % len(plan.classes)]
                    cycle += 1
                    for item in _dirty_rows(cls, u):
                        if isinstance(item, tuple):
                            lines.append(orjson.dumps(dict(zip(SAMR_COLUMNS, item[1], strict=True)))
                                         .decode().encode("gb18030"))
                        elif item[0].startswith("\ufeff"):
                            lines.append(b'{"uniscid": "broken')  # a line cut mid-way
                        else:
                            lines.append(orjson.dumps(dict(zip(SAMR_COLUMNS, item, strict=False))))
                        count += 1
                    continue
                lines.append(orjson.dumps(samr_item(u)))
                count += 1
                if len(lines) >= 5000:
                    raw.write(b"\n".join(lines) + b"\n")
                    lines = []
            if lines:
                raw.write(b"\n".join(lines) + b"\n")
        else:
            raise ValueError(f"format must be csv or jsonl, not {fmt}")
    finally:
        raw.close()
    if manifest:
        meta = {"kind": kind, "sequence": sequence, "base_sequence": base_sequence, "record_count": count,
                "produced_at": dt.datetime.now(dt.UTC).isoformat(), "layout": "samr"}
        path.with_name(path.name + ".manifest.json").write_bytes(orjson.dumps(meta, option=orjson.OPT_INDENT_2))
    return count
