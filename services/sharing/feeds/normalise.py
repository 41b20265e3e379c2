"""Validate and normalise one source row into a contract record, or say precisely why not.

This is the hot path of the nightly ingest (a million rows): plain functions, no model
validation per row. `contracts/feeds/registration/v1/record.schema.json` describes the output;
a test checks that every normalised record validates against the pydantic contract model.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from services.kit.ids import citizen_id_problem, uscc_problem
from services.sharing.feeds.mapping import Mapping

CHINA_TZ = ZoneInfo("Asia/Shanghai")
_INDUSTRY = re.compile(r"^[A-T](\d{2,4})?$")
_DIGITS = re.compile(r"^\d{1,4}$")
_DATE_SEP = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")
_CAPITAL = re.compile(r"^([0-9]+(?:\.[0-9]+)?)\s*(万|亿)?\s*(元)?\s*(.*)$")
_CURRENCIES = {
    "": "CNY", "人民币": "CNY", "美元": "USD", "港元": "HKD", "港币": "HKD", "欧元": "EUR", "日元": "JPY",
    "韩元": "KRW", "英镑": "GBP",
}
_INVISIBLE = dict.fromkeys(map(ord, "\ufeff\u200b\u200c\u200d\u2060\u00ad"))
_INVISIBLE_RE = re.compile("[\ufeff\u200b\u200c\u200d\u2060\u00ad]")
_CONTROL_RE = re.compile("[\x00-\x09\x0b-\x1f\x7f]")
MAX_NAME = 200
MAX_TEXT = 500
MAX_SCOPE = 10_000


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
        """Everything that makes the record what it is, in a fixed order (provenance excluded)."""
        return "\x1f".join(
            "" if v is None else str(v)
            for v in (
                self.uscc, self.name, self.entity_type, self.unit_type, self.legal_rep_name, self.legal_rep_id,
                self.registered_capital, self.capital_currency, self.established_on, self.reg_authority,
                self.reg_status, self.reg_status_label, self.reg_status_date, self.address, self.region_code,
                self.industry_code, self.business_scope,
            )
        )


def fold_code(raw: str) -> str:
    """Codes and numbers: NFKC (full-width to half-width), no whitespace, upper-case."""
    if not raw.isascii():
        if _INVISIBLE_RE.search(raw):
            raw = raw.translate(_INVISIBLE)
        raw = unicodedata.normalize("NFKC", raw)
    return "".join(raw.split()).upper()


def clean_text(raw: str, field: str, limit: int, *, multiline: bool = False) -> str:
    """Names and addresses keep their own characters (full-width brackets are part of a registered
    name); only invisible marks are removed, whitespace runs collapsed and control characters refused."""
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
    if amount >= Decimal("1e14"):
        raise RowRejected("invalid_capital", "registered_capital: implausibly large", "registered_capital")
    return amount.quantize(Decimal("0.0001")), currency


Getter = Callable[[str], str]


class Normaliser:
    """Built once per run from the mapping; `record(get)` reads fields through `get(contract_field)`."""

    def __init__(self, mapping: Mapping, *, today: dt.date | None = None) -> None:
        self.mapping = mapping
        self.today = today or dt.datetime.now(CHINA_TZ).date()
        self._status = mapping.codes["reg_status"]
        self._unit_type = mapping.codes["unit_type"]
        self._change = mapping.codes["change_type"]

    def record(self, get: Getter) -> FeedRecord:
        uscc = fold_code(get("uscc"))
        if not uscc:
            raise RowRejected("missing_field", "uscc: empty", "uscc")
        problem = uscc_problem(uscc)
        if problem is not None:
            reason = "uscc_checksum" if problem.checksum_only else "uscc_invalid"
            raise RowRejected(reason, f"uscc `{uscc}`: {problem.reason}", "uscc")
        raw_name = get("name")
        if not raw_name.strip():
            raise RowRejected("missing_field", "name: empty", "name")
        name = clean_text(raw_name, "name", MAX_NAME)

        status_raw = get("reg_status")
        status_label = clean_text(status_raw, "reg_status", 100) if status_raw else ""
        change_raw = fold_code(get("change_type")) if self.mapping.column("change_type") else ""
        change_type = None
        if change_raw:
            change_type = self._change.lookup(change_raw) or self._change.lookup(change_raw.lower())
            if change_type is None:
                raise RowRejected("unknown_code", f"change_type: `{change_raw}` is not mapped", "change_type")
        if status_label:
            status = self._status.lookup(status_label)
            if status is None:
                raise RowRejected("unknown_code", f"reg_status: `{status_label}` is not mapped", "reg_status")
        elif change_type == "cancelled":
            status, status_label = "deregistered", "注销"
        else:
            raise RowRejected("missing_field", "reg_status: empty", "reg_status")

        entity_raw = get("entity_type").strip()
        entity_type = clean_text(entity_raw, "entity_type", 100) if entity_raw else None
        unit_type = self._unit_type.lookup(entity_type or "")
        if unit_type is None:
            if uscc[:2] == "92":
                unit_type = "individual_business"
            else:
                raise RowRejected("unknown_code", f"entity_type: `{entity_raw}` is not mapped", "entity_type")

        region = fold_code(get("region_code"))
        if not region:
            region = uscc[2:8]
        elif len(region) != 6 or not region.isdigit():
            raise RowRejected("invalid_region", f"region_code: `{region}` is not a 6-digit code", "region_code")

        industry = fold_code(get("industry_code"))
        if industry:
            if _DIGITS.match(industry):
                section = fold_code(get("industry_section"))
                industry = section + industry.zfill(4 if len(industry) > 2 else 2)
            if not _INDUSTRY.match(industry):
                raise RowRejected(
                    "invalid_industry", f"industry_code: `{industry}` is not a GB/T 4754 code", "industry_code"
                )
        else:
            section = fold_code(get("industry_section"))
            industry = section if section and _INDUSTRY.match(section) else ""

        rep_name_raw = get("legal_rep_name")
        rep_name = clean_text(rep_name_raw, "legal_rep_name", MAX_NAME) if rep_name_raw.strip() else None
        rep_id_raw = get("legal_rep_id")
        rep_id = fold_code(rep_id_raw) if rep_id_raw else ""
        if rep_id:
            id_problem = citizen_id_problem(rep_id, today=self.today)
            if id_problem is not None:
                raise RowRejected("citizen_id_invalid", f"legal_rep_id: {id_problem.reason}", "legal_rep_id")
            if rep_name is None:
                raise RowRejected("missing_field", "legal_rep_name: empty while an id number is given",
                                  "legal_rep_name")
        capital, currency = parse_capital(get("registered_capital"))
        authority = get("reg_authority")
        address = get("address")
        scope = get("business_scope")
        return FeedRecord(
            uscc=uscc,
            name=name,
            entity_type=entity_type,
            unit_type=unit_type,
            legal_rep_name=rep_name,
            legal_rep_id=rep_id or None,
            registered_capital=capital,
            capital_currency=currency,
            established_on=parse_date(get("established_on"), "established_on", self.today),
            reg_authority=clean_text(authority, "reg_authority", MAX_TEXT) or None if authority else None,
            reg_status=status,
            reg_status_label=status_label,
            reg_status_date=parse_date(get("reg_status_date"), "reg_status_date", self.today),
            address=clean_text(address, "address", MAX_TEXT) or None if address else None,
            region_code=region,
            industry_code=industry or None,
            business_scope=clean_text(scope, "business_scope", MAX_SCOPE, multiline=True) or None if scope else None,
            changed_at=parse_timestamp(get("changed_at"), "changed_at"),
            change_type=change_type,
        )


def csv_getter(mapping: Mapping, header: Sequence[str]) -> Callable[[Sequence[str]], Getter]:
    """Column positions resolved once per file; unknown columns read as empty."""
    positions: dict[str, int] = {}
    cleaned = [h.translate(_INVISIBLE).strip() for h in header]
    for contract_field, column in mapping.columns.items():
        if column and column in cleaned:
            positions[contract_field] = cleaned.index(column)

    def bind(row: Sequence[str]) -> Getter:
        def get(f: str) -> str:
            i = positions.get(f)
            return row[i] if i is not None else ""

        return get

    return bind


def missing_required_columns(mapping: Mapping, header: Sequence[str]) -> list[str]:
    cleaned = {h.translate(_INVISIBLE).strip() for h in header}
    return [mapping.columns[f] for f in ("uscc", "name", "reg_status") if mapping.columns[f] not in cleaned]
