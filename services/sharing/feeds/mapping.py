"""A source's layout mapped onto the registration feed contract by configuration (TOML), never by code.

A mapping names, for each contract field, the source column that carries it, and for each coded
field (status, entity type, change type) ordered rules `[match, value]`: the first rule whose
`match` is found in the normalised source label wins (`""` matches everything: a default).
"""

from __future__ import annotations

import pathlib
import tomllib
from dataclasses import dataclass, field
from typing import Any

MAPPINGS_DIR = pathlib.Path(__file__).parent / "mappings"

# contract fields a mapping may name (see contracts/feeds/registration/v1/record.schema.json)
CONTRACT_FIELDS = (
    "uscc", "name", "entity_type", "legal_rep_name", "legal_rep_id", "registered_capital", "established_on",
    "reg_authority", "reg_status", "reg_status_date", "address", "region_code", "industry_section",
    "industry_code", "business_scope", "changed_at", "change_type",
)
REQUIRED_FIELDS = ("uscc", "name", "reg_status")
CODED_FIELDS = {
    "reg_status": ("operating", "licence_revoked", "deregistered", "moved_out", "cancelled"),
    "unit_type": ("enterprise", "individual_business", "institution", "social_organisation", "government_organ"),
    "change_type": ("new", "changed", "cancelled"),
}


class MappingError(ValueError):
    """The mapping file itself is wrong (a deployment error, reported before any row is read)."""


@dataclass(frozen=True)
class CodeRules:
    rules: tuple[tuple[str, str], ...]
    mode: str = "contains"  # or "prefix" / "exact"

    def lookup(self, label: str) -> str | None:
        for match, value in self.rules:
            if (
                (self.mode == "contains" and match in label)
                or (self.mode == "prefix" and label.startswith(match))
                or (self.mode == "exact" and label == match)
            ):
                return value
        return None


@dataclass(frozen=True)
class Mapping:
    name: str
    description: str
    columns: dict[str, str]
    codes: dict[str, CodeRules]
    encoding: str = "auto"
    delimiter: str = ","
    source_path: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def column(self, contract_field: str) -> str | None:
        col = self.columns.get(contract_field)
        return col or None


def load_mapping(name_or_path: str) -> Mapping:
    """`samr` (built in, market-regulation layout), `contract` (our own field names) or a TOML path."""
    path = pathlib.Path(name_or_path)
    if not path.suffix:
        path = MAPPINGS_DIR / f"{name_or_path}.toml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in MAPPINGS_DIR.glob("*.toml")))
        raise MappingError(f"no mapping `{name_or_path}` (built in: {known}; or give a .toml path)")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"{path}: not valid TOML: {exc}") from exc
    columns = {str(k): str(v) for k, v in data.get("columns", {}).items()}
    unknown = sorted(set(columns) - set(CONTRACT_FIELDS))
    if unknown:
        raise MappingError(f"{path}: [columns] names fields the contract does not have: {', '.join(unknown)}")
    missing = [f for f in REQUIRED_FIELDS if not columns.get(f)]
    if missing:
        raise MappingError(f"{path}: [columns] must map the required fields: {', '.join(missing)}")
    codes: dict[str, CodeRules] = {}
    for coded, allowed in CODED_FIELDS.items():
        section = data.get("codes", {}).get(coded, {})
        rules = tuple((str(m), str(v)) for m, v in section.get("rules", []))
        bad = sorted({v for _, v in rules if v not in allowed})
        if bad:
            raise MappingError(f"{path}: [codes.{coded}] maps to values the contract does not know: {bad}")
        mode = str(section.get("mode", "contains"))
        if mode not in ("contains", "prefix", "exact"):
            raise MappingError(f"{path}: [codes.{coded}] mode must be contains, prefix or exact")
        codes[coded] = CodeRules(rules=rules, mode=mode)
    source = data.get("source", {})
    return Mapping(
        name=str(source.get("name", path.stem)),
        description=str(source.get("description", "")),
        columns=columns,
        codes=codes,
        encoding=str(source.get("encoding", "auto")),
        delimiter=str(source.get("delimiter", ",")),
        source_path=str(path),
    )
