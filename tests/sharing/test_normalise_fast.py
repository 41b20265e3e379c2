"""The stage phase's fast paths give the general rules' answers: the same value, or the same rejection
(reason, field and detail), on tricky inputs; caches answer like a first look; the COPY line and the
content key are the general encoding's; the workers' wire format gives back the part that was sent."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import pathlib
import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from services.kit.pii import PiiProtector
from services.sharing.feeds import normalise as N
from services.sharing.feeds.mapping import CONTRACT_FIELDS, CodeRules, Mapping, load_mapping
from services.sharing.feeds.normalise import FeedRecord, Normaliser, RowRejected, RowValues
from services.sharing.feeds.readers import open_file_feed
from services.sharing.ingest.validate import RecordEncoder, RowValidator, decode_part, encode_part, values_of
from services.sharing.simulator.generate import SAMR_COLUMNS, Registry, samr_row, write_feed

SAMR = load_mapping("samr")
PII = PiiProtector.from_secret("sharing-tests-pii-key-0123456789abcdef")
TODAY = dt.date(2026, 11, 28)

FULL_WIDTH = {c: chr(ord(c) + 0xFEE0) for c in "0123456789ABCXabcx-/.,:()"}
# whitespace of every kind str.split() knows, the invisible marks, control characters, and a few others
ODD = [" ", "  ", "\u3000", "\t", "\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x1f", "\x85", "\xa0", "\u2002",
       "\u2028", "\u2029", "\ufeff", "\u200b", "\u200c", "\u200d", "\u2060", "\xad", "\x00", "\x01", "\x1b",
       "\x7f", "\x9f", "\u200e", "\ue000", "\\", "é", "\U0001f525", "（", "）", "ﬁ", "①", "٣"]


def _outcome(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> object:
    try:
        return ("ok", fn(*args, **kwargs))
    except RowRejected as exc:
        return ("rejected", exc.reason, exc.field, exc.detail)


def _mutations(seed: str, rng: random.Random, n: int) -> Iterator[str]:
    """`seed` with odd characters put in, taken out, doubled, made full-width."""
    yield seed
    for _ in range(n):
        s = seed
        for _ in range(rng.randrange(1, 4)):
            k = rng.randrange(6)
            i = rng.randrange(len(s) + 1)
            if k <= 2:
                s = s[:i] + rng.choice(ODD) + s[i:]
            elif k == 3:
                s = "".join(FULL_WIDTH.get(c, c) for c in s)
            elif k == 4:
                s = s[:i] + s[i + 1:]
            else:
                s = s.lower() if rng.random() < 0.5 else s + s
        yield s


CODES = ["91222401KLXHW8Q0XA", "92222405r6d5d6pn1x", "222401195308260954", "22240119530826095x", "222401", "H",
         "6231", "", " ", "新增", "changed", "１２３", "A01"]
TEXTS = ["延吉绿源超市有限公司", "延吉市 安达 KTV", "存续（在营、开业、在册）", "Hotel  Yanji", " lead", "trail ", "",
         "  ", "\u3000", "a" * 200, "名" * 201, "一般项目：茶饮服务\n许可项目：茶饮服务", "行一\n\n行三", "\n开头",
         "结尾\n", "行 \n行", "行\n 行", "a\r\nb", "a\\b", "x\ny  z", "\n", "a\n" * 300]
DATES = ["1998-08-31", "1998/8/31", "19980831", "1998年8月31日", "１９９８－０８－３１", "1998-08-31 10:00:00",
         "1998-08-31T10:00", "2019-02-30", "2026-11-28", "2026-11-29", "1899-12-31", "1900-01-01", "0000-01-01",
         "1998-13-01", "1998-08-3x", "+998-08-31", "١٩٩٨-٠٨-٣١", "1998-W3-1x", "", " ", "abc", "98-8-31"]
CAPITALS = ["305843.0395万元人民币", "380.8000万元人民币", "0万元人民币", "00100.5000万元人民币", "1.万元人民币",
            ".5万元人民币", "万元人民币", "1.5亿元美元", "１００万元人民币", "100元", "1,000万元人民币",
            "100 万元人民币",
            "9999999999999.9999万元人民币", "100000000000000万元人民币", "99999999999999.99995万元人民币",
            "0.00005万元人民币", "2.50005万元人民币", "100万元火星币", "abc", "", "١٠٠万元人民币", "100万元人民币 "]


def test_fold_code_fast_path_is_the_general_rule() -> None:
    rng = random.Random(1)
    for seed in CODES:
        for raw in _mutations(seed, rng, 300):
            assert N.fold_code(raw) == N._fold_code_general(raw), repr(raw)


@pytest.mark.parametrize("multiline", [False, True])
def test_clean_text_fast_path_is_the_general_rule(multiline: bool) -> None:
    rng = random.Random(2)
    for seed in TEXTS:
        for raw in _mutations(seed, rng, 400):
            for limit in (3, 200, 10_000):
                assert _outcome(N.clean_text, raw, "name", limit, multiline=multiline) == \
                    _outcome(N._clean_text_general, raw, "name", limit, multiline=multiline), repr(raw)


def test_clean_text_fast_path_keeps_clean_text_as_it_is() -> None:
    # the inputs the fast path is for: they must not need the general rule to come out unchanged
    for raw in ("延吉绿源超市有限公司", "Hotel Yanji", "一般项目：茶饮服务\n许可项目：茶饮服务", "行一\n\n行三"):
        assert N.clean_text(raw, "f", 100, multiline=True) is raw


def test_parse_date_fast_path_is_the_general_rule() -> None:
    rng = random.Random(3)
    for seed in DATES:
        for raw in _mutations(seed, rng, 200):
            assert _outcome(N.parse_date, raw, "established_on", TODAY) == \
                _outcome(N._parse_date_general, raw, "established_on", TODAY), repr(raw)


def test_parse_capital_fast_path_is_the_general_rule() -> None:
    rng = random.Random(4)
    for seed in CAPITALS:
        for raw in _mutations(seed, rng, 200):
            fast, general = _outcome(N.parse_capital, raw), _outcome(N._parse_capital_general, raw)
            assert fast == general, repr(raw)
            if fast[0] == "ok":  # the same Decimal, written the same way (the COPY line and the content key)
                assert str(fast[1][0]) == str(general[1][0])  # type: ignore[index]


def _tricky_rows() -> list[tuple[str, ...]]:
    """Simulator rows in contract order, each with one or two fields replaced by a tricky value."""
    rng = random.Random(5)
    index = {f: i for i, f in enumerate(CONTRACT_FIELDS)}
    by_column = dict(zip(SAMR.columns.values(), SAMR.columns, strict=True))
    base = []
    for unit in Registry(seed=9, size=60).full(2):
        row = dict(zip(SAMR_COLUMNS, samr_row(unit), strict=True))
        base.append(tuple(row[SAMR.columns[f]] if SAMR.columns.get(f) in row else "" for f in CONTRACT_FIELDS))
    assert set(by_column.values()) == set(CONTRACT_FIELDS)
    choices = {
        "uscc": [*CODES[:2], "", "91222401KLXHW8Q0XB", "I1222401KLXHW8Q0XA"],
        "name": TEXTS, "entity_type": ["个体工商户", "事业单位", "未知类型", "", " ", "\u200b", "名" * 101],
        "reg_status": ["存续（在营、开业、在册）", "吊销，已注销", "休眠", "", " ", "存续\x01"],
        "change_type": ["新增", "注销", "NEW", "xx", "", "ｎｅｗ"],
        "established_on": DATES, "reg_status_date": DATES, "registered_capital": CAPITALS,
        "region_code": ["", "222401", "２２２４０１", "22240", "abcdef", "٢٢٢٤٠١"],
        "industry_section": ["H", "h", "", "Z", "H62", "Ｈ"],
        "industry_code": ["6231", "62", "5", "", "12345", "H6231"],
        "legal_rep_id": ["", "222401195308260954", "222401195308260955", "   "],
        "legal_rep_name": ["", " ", "金明", "金\x01明"],
        "changed_at": ["2026-01-01 10:00:00", "2026/01/01 10:00:00", "2026-01-01T02:00:00Z", "garbage", ""],
        "business_scope": TEXTS, "address": TEXTS, "reg_authority": TEXTS,
    }
    rows = []
    for b in base:
        for _ in range(60):
            v = list(b)
            for f in rng.sample(CONTRACT_FIELDS, rng.choice([1, 1, 2])):
                v[index[f]] = rng.choice(choices[f])
            rows.append(tuple(v))
    return rows


def _record_outcome(norm: Normaliser, values: tuple[str, ...]) -> object:
    try:
        return ("ok", dataclasses.astuple(norm.record_of(values)))
    except RowRejected as exc:
        return ("rejected", exc.reason, exc.field, exc.detail)


def _exact_entity_types() -> Mapping:
    codes = {**SAMR.codes, "unit_type": CodeRules(rules=(("个体工商户", "individual_business"),), mode="exact")}
    return dataclasses.replace(SAMR, codes=codes)


@pytest.mark.parametrize("mapping", ["samr", "samr-without-change-type", "exact-entity-types"])
def test_remembered_values_answer_like_a_first_look(mapping: str) -> None:
    m = SAMR
    if mapping == "samr-without-change-type":
        m = dataclasses.replace(SAMR, columns={k: v for k, v in SAMR.columns.items() if k != "change_type"})
    elif mapping == "exact-entity-types":
        m = _exact_entity_types()
    rows = _tricky_rows()
    warm = Normaliser(m, today=TODAY)
    first = [_record_outcome(warm, v) for v in rows]
    again = [_record_outcome(warm, v) for v in rows]  # every repeated value now comes from a cache
    assert again == first
    for values, seen in zip(rows[::7], first[::7], strict=True):
        assert _record_outcome(Normaliser(m, today=TODAY), values) == seen  # nothing remembered
    outcomes = {o[1] if o[0] == "rejected" else "ok" for o in first}  # type: ignore[index]
    assert {"ok", "invalid_date", "invalid_capital", "unknown_code", "too_long", "control_character"} <= outcomes


def test_an_unmapped_entity_type_is_decided_by_each_row_s_uscc() -> None:
    # the entity label is remembered, the fallback for individual businesses (USCC 92...) is not
    norm = Normaliser(_exact_entity_types(), today=TODAY)
    unit = Registry(seed=1, size=10).state(1, 0)
    row = dict(zip(SAMR_COLUMNS, samr_row(unit), strict=True))
    values = tuple(row[SAMR.columns[f]] for f in CONTRACT_FIELDS)
    company = (unit.uscc if unit.uscc[:2] != "92" else "91222401KLXHW8Q0XA", *values[1:2], "未知类型", *values[3:])
    individual = ("92222405R6D5D6PN1X", *company[1:])
    for _ in range(2):
        assert norm.record_of(individual).unit_type == "individual_business"
        with pytest.raises(RowRejected) as exc:
            norm.record_of(company)
        assert (exc.value.reason, exc.value.field, exc.value.detail) == (
            "unknown_code", "entity_type", "entity_type: `未知类型` is not mapped")


def test_a_cache_that_fills_up_is_emptied(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(N, "CACHE_LIMIT", 5)
    monkeypatch.setattr(N, "DATE_CACHE_LIMIT", 7)
    norm = Normaliser(SAMR, today=TODAY)
    rows = _tricky_rows()[:500]
    assert [_record_outcome(norm, v) for v in rows] == [_record_outcome(Normaliser(SAMR, today=TODAY), v)
                                                       for v in rows]
    assert 0 < len(norm._date_of) <= 7
    assert 0 < len(norm._capital_of) <= 5


def test_long_values_are_not_remembered() -> None:
    norm = Normaliser(SAMR, today=TODAY)
    row = dict(zip(SAMR_COLUMNS, samr_row(Registry(seed=1, size=10).state(1, 0)), strict=True))
    values = [row[SAMR.columns[f]] for f in CONTRACT_FIELDS]
    values[CONTRACT_FIELDS.index("established_on")] = "1998-08-31 " + "x" * 500  # a time part is ignored
    values[CONTRACT_FIELDS.index("reg_authority")] = "局" * 300
    rec = norm.record_of(tuple(values))
    assert rec.established_on == dt.date(1998, 8, 31)
    assert rec.reg_authority == "局" * 300
    assert all(len(k) <= N.REMEMBER_CHARS for k in [*norm._date_of, *norm._authority_of])


def test_record_reads_any_getter_like_row_values() -> None:
    norm = Normaliser(SAMR, today=TODAY)
    for values in _tricky_rows()[::11]:
        by_getter = _outcome(norm.record, dict(zip(CONTRACT_FIELDS, values, strict=True)).__getitem__)
        assert by_getter == _outcome(norm.record, RowValues(values)) == _outcome(norm.record_of, values)
        assert values_of(RowValues(values)) == values_of(dict(zip(CONTRACT_FIELDS, values, strict=True)).get)


def _reference_key(rec: FeedRecord) -> str:
    """The content key as mirrors have always hashed it."""
    return "\x1f".join("" if v is None else str(v) for v in (
        rec.uscc, rec.name, rec.entity_type, rec.unit_type, rec.legal_rep_name, rec.legal_rep_id,
        rec.registered_capital, rec.capital_currency, rec.established_on, rec.reg_authority, rec.reg_status,
        rec.reg_status_label, rec.reg_status_date, rec.address, rec.region_code, rec.industry_code,
        rec.business_scope,
    ))


def test_copy_line_and_content_key_are_the_general_encoding() -> None:
    norm = Normaliser(SAMR, today=TODAY)
    encoder = RecordEncoder(PII)
    records = []
    for values in _tricky_rows():
        try:
            records.append(norm.record_of(values))
        except RowRejected:
            continue
    # values the COPY text format must escape, and empty strings that are not NULL
    base = records[0]
    records += [
        dataclasses.replace(base, name="a\\b"), dataclasses.replace(base, business_scope="x\ny"),
        dataclasses.replace(base, address="p\\q", reg_authority="", entity_type=""),
        dataclasses.replace(base, reg_status_label="l\\m", change_type=None, changed_at=None),
    ]
    escaped = 0
    for n, rec in enumerate(records):
        assert rec.content_key() == _reference_key(rec)
        line = encoder.line(n, rec)
        cols = line.rstrip("\n").split("\t")
        content = hashlib.blake2b(_reference_key(rec).encode(), digest_size=16).hexdigest()
        assert cols[-1] == "\\\\x" + content  # the encoder builds the key itself: it must be content_key()'s
        general = encoder._escaped_line(n, rec, cols[6], cols[7], cols[8], content)
        assert line == general
        escaped += "\\\\" in line or "\\n" in line
        if rec.legal_rep_id:
            assert PII.decrypt(bytes.fromhex(cols[7][3:])) == rec.legal_rep_id
    assert escaped >= 4


def test_the_wire_format_gives_back_the_part() -> None:
    rows = [(n + 2, v) for n, v in enumerate(_tricky_rows()[:2500])]
    assert decode_part(encode_part(rows)) == rows
    with_nul = [*rows[:10], (99, ("名称\x00带NUL", *rows[0][1][1:]))]  # a NUL in a value: sent as rows
    assert decode_part(encode_part(with_nul)) == with_nul
    assert decode_part(encode_part([])) == []
    validator = RowValidator(SAMR, PII, TODAY)
    a, b = validator.part(rows), validator.part(decode_part(encode_part(rows)))
    assert (a[1], a[2]) == (b[1], b[2])


def test_a_row_with_bytes_the_codec_cannot_read_is_found_past_the_head(tmp_path: pathlib.Path) -> None:
    # the row is far past the head the encoding is chosen from, so the file reads as UTF-8; the reader
    # looks for undecodable bytes only once some turned up
    path = tmp_path / "late.csv"
    write_feed(path, Registry(seed=2, size=3000).full(0), encoding="utf-8")
    data = path.read_bytes()
    cut = data.index(b"\r\n", len(data) - 5000) + 2
    path.write_bytes(data[:cut] + "延吉,坏行\r\n".encode("gb18030") + data[cut:])
    feed = open_file_feed(path, SAMR)
    try:
        rows = list(feed.rows)
    finally:
        feed.close()
    assert feed.encoding == "utf-8-sig"
    bad = [r for r in rows if r.reason == "encoding"]
    assert len(bad) == 1
    assert "GB18030" in (bad[0].detail or "")
    assert sum(1 for r in rows if r.get is not None) == 3000


def test_reader_values_follow_the_mapping_with_missing_columns(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "thin.csv"
    keep = [c for c in SAMR_COLUMNS if c not in ("regorg", "changetype", "lerepcerno")]
    units = list(Registry(seed=4, size=20).full(0))
    lines = [",".join(keep)] + [
        ",".join(f'"{v}"' for c, v in zip(SAMR_COLUMNS, samr_row(u), strict=True) if c in keep) for u in units
    ]
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    feed = open_file_feed(path, SAMR)
    try:
        got = [values_of(r.get) for r in feed.rows if r.get is not None]
    finally:
        feed.close()
    assert len(got) == 20
    for values, unit in zip(got, units, strict=True):
        row = dict(zip(SAMR_COLUMNS, samr_row(unit), strict=True))
        expected = tuple(row[SAMR.columns[f]] if SAMR.columns[f] in keep else "" for f in CONTRACT_FIELDS)
        assert values == expected
