"""Validate and normalise one source row into a contract record, or say precisely why not.

This is the hot path of the nightly ingest (a million rows): plain functions, no model
validation per row. `contracts/feeds/registration/v1/record.schema.json` describes the output;
a test checks that every normalised record validates against the pydantic contract model.

Most feed values are already clean (ASCII codes, names without invisible marks or doubled spaces,
`YYYY-MM-DD` dates, `…万元人民币` capitals), so each function first tries a few C-level string checks
that are true only when the general rules would return the value unchanged (or parse it the same
way), and only otherwise runs the general rules (`_fold_code_general`, `_clean_text_general`, …).
`Normaliser` also remembers the outcome of values that repeat from row to row (status and entity
labels, authorities, capitals, dates, change stamps, industry codes), bounded.
tests/sharing/test_normalise_fast.py holds each fast path to its general rule on tricky inputs.
"""

from __future__ import annotations

import datetime as dt
import operator
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from services.kit.ids import citizen_id_problem, uscc_problem
from services.sharing.feeds.mapping import CONTRACT_FIELDS, Mapping

CHINA_TZ = ZoneInfo("Asia/Shanghai")
_INDUSTRY = re.compile(r"^[A-T](\d{2,4})?$")
_DIGITS = re.compile(r"^\d{1,4}$")
_DATE_SEP = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")
_CAPITAL = re.compile(r"^([0-9]+(?:\.[0-9]+)?)\s*(万|亿)?\s*(元)?\s*(.*)$")
_PLAIN_AMOUNT = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_CURRENCIES = {
    "": "CNY", "人民币": "CNY", "美元": "USD", "港元": "HKD", "港币": "HKD", "欧元": "EUR", "日元": "JPY",
    "韩元": "KRW", "英镑": "GBP",
}
_INVISIBLE = dict.fromkeys(map(ord, "\ufeff\u200b\u200c\u200d\u2060\u00ad"))
_INVISIBLE_RE = re.compile("[\ufeff\u200b\u200c\u200d\u2060\u00ad]")
_CONTROL_RE = re.compile("[\x00-\x09\x0b-\x1f\x7f]")
_TEN_THOUSAND_CNY = "万元人民币"
_QUANTUM = Decimal("0.0001")
_MAX_CAPITAL = Decimal("1e14")
MAX_NAME = 200
MAX_TEXT = 500
MAX_SCOPE = 10_000
# Remembered outcomes (Normaliser): at most this many entries per field (a cache that fills up is emptied),
# values of at most REMEMBER_CHARS characters; dates get room for a registry's span in three spellings
# (~5 MB per process), other fields far less (status labels, authorities and industries are few, capitals
# and change stamps mostly differ from row to row).
CACHE_LIMIT = 4_096
DATE_CACHE_LIMIT = 50_000
REMEMBER_CHARS = 100


def _remember(cache: dict[Any, Any], key: str, value: object, limit: int | None = None) -> None:
    if len(key) <= REMEMBER_CHARS:
        if len(cache) >= (CACHE_LIMIT if limit is None else limit):
            cache.clear()
        cache[key] = value

# `Normaliser.record_of` unpacks a row's values in this order
assert CONTRACT_FIELDS == (
    "uscc", "name", "entity_type", "legal_rep_name", "legal_rep_id", "registered_capital", "established_on",
    "reg_authority", "reg_status", "reg_status_date", "address", "region_code", "industry_section",
    "industry_code", "business_scope", "changed_at", "change_type",
), "CONTRACT_FIELDS changed: update Normaliser.record_of"
FIELD_INDEX = {f: i for i, f in enumerate(CONTRACT_FIELDS)}


class RowRejected(Exception):
    """A row that cannot be applied: `reason` is a stable code, `field` the contract field."""

    def __init__(self, reason: str, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.field = field


@dataclass(slots=True)
class FeedRecord:
    """A normalised registration record (contract v1 field names)."""

    uscc: str
    name: str
    entity_type: str | None
    unit_type: str
    legal_rep_name: str | None
    legal_rep_id: str | None
    registered_capital: Decimal | None  # in 万元 (10,000 units of the currency)
    capital_currency: str | None
    established_on: dt.date | None
    reg_authority: str | None
    reg_status: str
    reg_status_label: str
    reg_status_date: dt.date | None
    address: str | None
    region_code: str
    industry_code: str | None
    business_scope: str | None
    changed_at: dt.datetime | None
    change_type: str | None

    def content_key(self) -> str:
        """Everything that makes the record what it is, in a fixed order (provenance excluded): each
        value as `str()`, None as "", joined by U+001F. Mirrors compare its hash: never change it
        (`RecordEncoder.line` builds the same string from its COPY values; a test holds the two equal)."""
        cap, est, sdate = self.registered_capital, self.established_on, self.reg_status_date
        return "\x1f".join((
            self.uscc, self.name, self.entity_type or "", self.unit_type, self.legal_rep_name or "",
            self.legal_rep_id or "", "" if cap is None else str(cap), self.capital_currency or "",
            "" if est is None else str(est), self.reg_authority or "", self.reg_status, self.reg_status_label,
            "" if sdate is None else str(sdate), self.address or "", self.region_code, self.industry_code or "",
            self.business_scope or "",
        ))


def fold_code(raw: str) -> str:
    """Codes and numbers: NFKC (full-width to half-width), no whitespace, upper-case."""
    if raw.isascii():
        if raw.isalnum():  # no whitespace to remove (ASCII letters and digits only)
            return raw.upper()
        return "".join(raw.split()).upper()
    return _fold_code_general(raw)


def _fold_code_general(raw: str) -> str:
    if not raw.isascii():
        if _INVISIBLE_RE.search(raw):
            raw = raw.translate(_INVISIBLE)
        raw = unicodedata.normalize("NFKC", raw)
    return "".join(raw.split()).upper()


def clean_text(raw: str, field: str, limit: int, *, multiline: bool = False) -> str:
    """Names and addresses keep their own characters (full-width brackets are part of a registered
    name); only invisible marks are removed, whitespace runs collapsed and control characters refused."""
    # Already clean, the common case: no character that is invisible, a control or whitespace other
    # than U+0020 (all of them fail `isprintable`), and no space to collapse or trim; with line breaks
    # (multiline), only "\n" breaks lines, and no line starts or ends with a space or the text with a break.
    if multiline and "\n" in raw:
        clean = (
            raw.replace("\n", "").isprintable() and raw[0] != "\n" and raw[-1] != "\n"
            and (" " not in raw or (raw[0] != " " and raw[-1] != " " and "  " not in raw
                                    and " \n" not in raw and "\n " not in raw))
        )
    else:
        clean = raw.isprintable() and (" " not in raw or (raw[0] != " " and raw[-1] != " " and "  " not in raw))
    if not clean:
        return _clean_text_general(raw, field, limit, multiline=multiline)
    if len(raw) > limit:
        raise RowRejected("too_long", f"{field}: {len(raw)} characters, at most {limit}", field)
    return raw


def _clean_text_general(raw: str, field: str, limit: int, *, multiline: bool = False) -> str:
    text = raw.translate(_INVISIBLE) if _INVISIBLE_RE.search(raw) else raw
    if multiline and "\n" in text:
        text = "\n".join(" ".join(line.split()) for line in text.strip().splitlines())
    else:
        text = " ".join(text.split())  # also folds U+3000 and tabs
    bad = _CONTROL_RE.search(text)
    if bad is not None:
        raise RowRejected("control_character", f"{field}: control character U+{ord(bad[0]):04X}", field)
    if len(text) > limit:
        raise RowRejected("too_long", f"{field}: {len(text)} characters, at most {limit}", field)
    return text


def parse_date(raw: str, field: str, today: dt.date) -> dt.date | None:
    """`1998-08-31`, `1998/8/31`, `19980831`, `1998年8月31日`, with or without a time part."""
    if (len(raw) == 10 and raw[4] == "-" and raw[7] == "-" and raw.isascii() and raw[:4].isdigit()
            and raw[5:7].isdigit() and raw[8:].isdigit()):
        try:
            parsed = dt.date.fromisoformat(raw)  # the general rule's dt.date(int, int, int) of the same digits
        except ValueError:
            return _parse_date_general(raw, field, today)
        if parsed > today or parsed.year < 1900:
            return _parse_date_general(raw, field, today)  # says which
        return parsed
    return _parse_date_general(raw, field, today)


def _parse_date_general(raw: str, field: str, today: dt.date) -> dt.date | None:
    value = fold_code(raw) if not raw.isascii() else raw.strip()
    if not value:
        return None
    if " " in value or "T" in value:
        value = value.replace("T", " ").split(" ", 1)[0]
    try:
        if len(value) == 8 and value.isdigit():
            parsed = dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))
        else:
            m = _DATE_SEP.match(value)
            if m is None:
                raise RowRejected("invalid_date", f"{field}: `{raw}` is not a date (use 1998-08-31)", field)
            parsed = dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError as exc:
        raise RowRejected("invalid_date", f"{field}: `{raw}` is not a calendar date", field) from exc
    if parsed > today:
        raise RowRejected("invalid_date", f"{field}: {parsed} lies in the future", field)
    if parsed.year < 1900:
        raise RowRejected("invalid_date", f"{field}: {parsed} is before 1900", field)
    return parsed


def parse_timestamp(raw: str, field: str) -> dt.datetime | None:
    value = raw.strip()
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("/", "-"))
    except ValueError as exc:
        raise RowRejected("invalid_timestamp", f"{field}: `{raw}` is not a timestamp", field) from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=CHINA_TZ)  # the registry's local time
    return parsed.astimezone(dt.UTC)


def parse_capital(raw: str) -> tuple[Decimal | None, str | None]:
    """`305843.0395万元人民币` -> (305843.0395, CNY), amounts kept in 万元."""
    # the registry's usual form: plain ASCII digits in 万元人民币 (the general rule reads them unchanged)
    if raw.endswith(_TEN_THOUSAND_CNY) and _PLAIN_AMOUNT.fullmatch(raw, 0, len(raw) - 5):
        amount = Decimal(raw[:-5])
        if amount < _MAX_CAPITAL:
            # with four decimals already, quantizing changes nothing (fewer than 28 digits below 1e14)
            return amount if raw[-10:-9] == "." else amount.quantize(_QUANTUM), "CNY"
    return _parse_capital_general(raw)


def _parse_capital_general(raw: str) -> tuple[Decimal | None, str | None]:
    value = fold_code(raw).replace(",", "") if raw else ""
    if not value:
        return None, None
    m = _CAPITAL.match(value)
    if m is None:
        raise RowRejected("invalid_capital", f"registered_capital: `{raw}` is not an amount", "registered_capital")
    try:
        amount = Decimal(m[1])
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only numbers
        raise RowRejected("invalid_capital", f"registered_capital: `{raw}`", "registered_capital") from exc
    if m[2] == "亿":
        amount *= 10_000
    elif m[2] is None:
        amount /= 10_000  # a bare amount in 元
    currency = _CURRENCIES.get(m[4])
    if currency is None:
        raise RowRejected("invalid_capital", f"registered_capital: unknown currency `{m[4]}`", "registered_capital")
    if amount >= _MAX_CAPITAL:
        raise RowRejected("invalid_capital", "registered_capital: implausibly large", "registered_capital")
    return amount.quantize(_QUANTUM), currency


Getter = Callable[[str], str]


class RowValues:
    """A source row's values in `CONTRACT_FIELDS` order ("" where the source has no such column),
    readable as a `Getter`. The CSV reader gives one per row; the stage phase sends `.values` to the
    validation workers as they are, and `Normaliser.record` reads them without a call per field."""

    __slots__ = ("values",)

    def __init__(self, values: tuple[str, ...]) -> None:
        self.values = values

    def __call__(self, field: str) -> str:
        i = FIELD_INDEX.get(field)
        return self.values[i] if i is not None else ""


_MISS: Any = object()


class Normaliser:
    """Built once per run from the mapping; `record(get)` reads fields through `get(contract_field)`,
    `record_of(values)` takes them in `CONTRACT_FIELDS` order (the workers' path)."""

    def __init__(self, mapping: Mapping, *, today: dt.date | None = None) -> None:
        self.mapping = mapping
        self.today = today or dt.datetime.now(CHINA_TZ).date()
        self._status = mapping.codes["reg_status"]
        self._unit_type = mapping.codes["unit_type"]
        self._change = mapping.codes["change_type"]
        self._has_change = bool(mapping.column("change_type"))
        # outcomes of values that repeat across rows, by source value; only values that passed are kept
        # (a rejection is worked out again, so its message is the general rule's)
        self._status_of: dict[str, tuple[str, str | None]] = {}  # raw -> (label, status or None if unmapped)
        self._entity_of: dict[str, tuple[str | None, str | None]] = {}  # raw -> (entity_type, unit_type)
        self._change_of: dict[str, str | None] = {}
        self._industry_of: dict[tuple[str, str], str] = {}
        self._date_of: dict[str, dt.date | None] = {}
        self._authority_of: dict[str, str | None] = {}
        self._capital_of: dict[str, tuple[Decimal | None, str | None]] = {}
        self._stamp_of: dict[str, dt.datetime | None] = {}

    def record(self, get: Getter) -> FeedRecord:
        values = get.values if type(get) is RowValues else tuple(get(f) for f in CONTRACT_FIELDS)
        return self.record_of(values)

    def _date(self, raw: str, field: str) -> dt.date | None:
        parsed = parse_date(raw, field, self.today)
        _remember(self._date_of, raw, parsed, DATE_CACHE_LIMIT)
        return parsed

    def record_of(self, values: Sequence[str]) -> FeedRecord:
        (raw_uscc, raw_name, raw_entity, rep_name_raw, rep_id_raw, raw_capital, raw_established, authority,
         status_raw, raw_status_date, address, raw_region, raw_section, raw_industry, scope, raw_changed,
         raw_change) = values

        # (the fast paths of fold_code and clean_text are repeated inline for the fields every row has)
        uscc = raw_uscc.upper() if raw_uscc.isascii() and raw_uscc.isalnum() else fold_code(raw_uscc)
        if not uscc:
            raise RowRejected("missing_field", "uscc: empty", "uscc")
        problem = uscc_problem(uscc)
        if problem is not None:
            reason = "uscc_checksum" if problem.checksum_only else "uscc_invalid"
            raise RowRejected(reason, f"uscc `{uscc}`: {problem.reason}", "uscc")
        if not raw_name or raw_name.isspace():
            raise RowRejected("missing_field", "name: empty", "name")
        if raw_name.isprintable() and " " not in raw_name and len(raw_name) <= MAX_NAME:
            name = raw_name
        else:
            name = clean_text(raw_name, "name", MAX_NAME)

        if status_raw:
            known_status = self._status_of.get(status_raw)
            if known_status is None:
                label = clean_text(status_raw, "reg_status", 100)
                known_status = (label, self._status.lookup(label) if label else None)
                _remember(self._status_of, status_raw, known_status)
            status_label, mapped_status = known_status
        else:
            status_label, mapped_status = "", None
        change_type = None
        if self._has_change:
            change_type = self._change_of.get(raw_change, _MISS)
            if change_type is _MISS:
                change_raw = fold_code(raw_change)
                change_type = None
                if change_raw:
                    change_type = self._change.lookup(change_raw) or self._change.lookup(change_raw.lower())
                    if change_type is None:
                        raise RowRejected("unknown_code", f"change_type: `{change_raw}` is not mapped", "change_type")
                _remember(self._change_of, raw_change, change_type)
        if status_label:
            if mapped_status is None:
                raise RowRejected("unknown_code", f"reg_status: `{status_label}` is not mapped", "reg_status")
            status = mapped_status
        elif change_type == "cancelled":
            status, status_label = "deregistered", "注销"
        else:
            raise RowRejected("missing_field", "reg_status: empty", "reg_status")

        known_entity = self._entity_of.get(raw_entity)
        if known_entity is None:
            entity_raw = raw_entity.strip()
            entity = clean_text(entity_raw, "entity_type", 100) if entity_raw else None
            known_entity = (entity, self._unit_type.lookup(entity or ""))
            _remember(self._entity_of, raw_entity, known_entity)
        entity_type, unit_type = known_entity
        if unit_type is None:
            if uscc[:2] == "92":
                unit_type = "individual_business"
            else:
                raise RowRejected("unknown_code", f"entity_type: `{raw_entity.strip()}` is not mapped", "entity_type")

        if len(raw_region) == 6 and raw_region.isascii() and raw_region.isdigit():
            region = raw_region
        else:
            region = fold_code(raw_region)
            if not region:
                region = uscc[2:8]
            elif len(region) != 6 or not region.isdigit():
                raise RowRejected("invalid_region", f"region_code: `{region}` is not a 6-digit code", "region_code")

        industry_key = (raw_section, raw_industry)
        industry = self._industry_of.get(industry_key)
        if industry is None:
            industry = fold_code(raw_industry)
            if industry:
                if _DIGITS.match(industry):
                    section = fold_code(raw_section)
                    industry = section + industry.zfill(4 if len(industry) > 2 else 2)
                if not _INDUSTRY.match(industry):
                    raise RowRejected(
                        "invalid_industry", f"industry_code: `{industry}` is not a GB/T 4754 code", "industry_code"
                    )
            else:
                section = fold_code(raw_section)
                industry = section if section and _INDUSTRY.match(section) else ""
            if len(raw_section) + len(raw_industry) <= REMEMBER_CHARS:
                if len(self._industry_of) >= CACHE_LIMIT:
                    self._industry_of.clear()
                self._industry_of[industry_key] = industry

        if not rep_name_raw or rep_name_raw.isspace():
            rep_name = None
        elif rep_name_raw.isprintable() and " " not in rep_name_raw and len(rep_name_raw) <= MAX_NAME:
            rep_name = rep_name_raw
        else:
            rep_name = clean_text(rep_name_raw, "legal_rep_name", MAX_NAME)
        if not rep_id_raw:
            rep_id = ""
        elif rep_id_raw.isascii() and rep_id_raw.isalnum():
            rep_id = rep_id_raw.upper()
        else:
            rep_id = fold_code(rep_id_raw)
        if rep_id:
            id_problem = citizen_id_problem(rep_id, today=self.today)
            if id_problem is not None:
                raise RowRejected("citizen_id_invalid", f"legal_rep_id: {id_problem.reason}", "legal_rep_id")
            if rep_name is None:
                raise RowRejected("missing_field", "legal_rep_name: empty while an id number is given",
                                  "legal_rep_name")
        known_capital = self._capital_of.get(raw_capital)
        if known_capital is None:
            known_capital = parse_capital(raw_capital)
            _remember(self._capital_of, raw_capital, known_capital)
        capital, currency = known_capital
        established_on = self._date_of.get(raw_established, _MISS)
        if established_on is _MISS:
            established_on = self._date(raw_established, "established_on")
        reg_authority = self._authority_of.get(authority, _MISS)
        if reg_authority is _MISS:
            reg_authority = clean_text(authority, "reg_authority", MAX_TEXT) or None if authority else None
            _remember(self._authority_of, authority, reg_authority)
        reg_status_date = self._date_of.get(raw_status_date, _MISS)
        if reg_status_date is _MISS:
            reg_status_date = self._date(raw_status_date, "reg_status_date")
        if not address:
            address_text = None
        elif address.isprintable() and " " not in address and len(address) <= MAX_TEXT:
            address_text = address
        else:
            address_text = clean_text(address, "address", MAX_TEXT) or None
        if not scope:
            business_scope = None
        elif scope.isprintable() and " " not in scope and len(scope) <= MAX_SCOPE:
            business_scope = scope
        else:
            business_scope = clean_text(scope, "business_scope", MAX_SCOPE, multiline=True) or None
        changed_at = self._stamp_of.get(raw_changed, _MISS)
        if changed_at is _MISS:
            changed_at = parse_timestamp(raw_changed, "changed_at")
            _remember(self._stamp_of, raw_changed, changed_at)
        return FeedRecord(
            uscc, name, entity_type, unit_type, rep_name, rep_id or None, capital, currency, established_on,
            reg_authority, status, status_label, reg_status_date, address_text, region, industry or None,
            business_scope, changed_at, change_type,
        )


def csv_getter(mapping: Mapping, header: Sequence[str]) -> Callable[[list[str]], RowValues]:
    """Column positions resolved once per file; unknown columns read as empty. `bind(row)` may append
    an empty value to `row` (read for the fields the file has no column for)."""
    cleaned = [h.translate(_INVISIBLE).strip() for h in header]
    width = len(header)
    positions: dict[str, int] = {}
    for contract_field, column in mapping.columns.items():
        if column and column in cleaned:
            positions[contract_field] = cleaned.index(column)
    indices = [positions.get(f, width) for f in CONTRACT_FIELDS]
    pick = operator.itemgetter(*indices)
    if width not in indices:
        def bind(row: list[str]) -> RowValues:
            return RowValues(pick(row))
    else:
        def bind(row: list[str]) -> RowValues:
            if len(row) == width:
                row.append("")
            return RowValues(pick(row))
    return bind


def missing_required_columns(mapping: Mapping, header: Sequence[str]) -> list[str]:
    cleaned = {h.translate(_INVISIBLE).strip() for h in header}
    return [mapping.columns[f] for f in ("uscc", "name", "reg_status") if mapping.columns[f] not in cleaned]
