"""Contracts are the committed OpenAPI documents in `contracts/`; code follows them.

  python -m tools.contract export credit     write the app's document to contracts/credit/v1/openapi.json
  python -m tools.contract compat credit     check the committed document against every frozen earlier
                                             version of the same major (contracts/credit/v1/released/*.json)

Compatibility (Zalando rules 106-108): paths, operations, response fields and enum values may be
added, never removed; a request may not gain a required field or parameter; a type may not change.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parents[1]


def contract_path(service: str, major: int = 1) -> pathlib.Path:
    return ROOT / "contracts" / service / f"v{major}" / "openapi.json"


def app_document(service: str) -> dict[str, Any]:
    if service == "credit":
        from services.credit.app import create_app
    elif service == "sharing":
        from services.sharing.app import create_app  # type: ignore[no-redef]
    else:
        raise SystemExit(f"unknown service {service}")
    document: dict[str, Any] = create_app().openapi()
    return json.loads(json.dumps(document))


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    seen = 0
    while "$ref" in schema and seen < 20:
        name = schema["$ref"].rsplit("/", 1)[1]
        schema = doc["components"]["schemas"][name]
        seen += 1
    return schema


def _compare_schema(
    old_doc: dict[str, Any],
    new_doc: dict[str, Any],
    old: dict[str, Any],
    new: dict[str, Any],
    where: str,
    *,
    request: bool,
    depth: int = 0,
) -> list[str]:
    if depth > 12:
        return []
    old, new = _resolve(old_doc, old), _resolve(new_doc, new)
    problems = []
    if old.get("type") and new.get("type") and old["type"] != new["type"]:
        problems.append(f"{where}: type changed {old['type']} -> {new['type']}")
    old_enum, new_enum = set(map(str, old.get("enum", []))), set(map(str, new.get("enum", [])))
    if old_enum and new_enum and old_enum - new_enum:
        problems.append(f"{where}: enum values removed {sorted(old_enum - new_enum)}")
    if request and new_enum and not old_enum and old.get("type"):
        problems.append(f"{where}: values narrowed to an enum")
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    if request:
        added_required = set(new.get("required", [])) - set(old.get("required", []))
        if added_required:
            problems.append(f"{where}: request gained required fields {sorted(added_required)}")
    else:
        removed = set(old_props) - set(new_props)
        if removed:
            problems.append(f"{where}: response fields removed {sorted(removed)}")
    for name in set(old_props) & set(new_props):
        problems += _compare_schema(
            old_doc, new_doc, old_props[name], new_props[name], f"{where}.{name}", request=request, depth=depth + 1
        )
    if "items" in old and "items" in new:
        problems += _compare_schema(
            old_doc, new_doc, old["items"], new["items"], f"{where}[]", request=request, depth=depth + 1
        )
    return problems


def incompatibilities(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    problems = []
    for path, old_ops in old.get("paths", {}).items():
        new_ops = new.get("paths", {}).get(path)
        if new_ops is None:
            problems.append(f"{path}: path removed")
            continue
        for method, old_op in old_ops.items():
            new_op = new_ops.get(method)
            if new_op is None:
                problems.append(f"{method.upper()} {path}: operation removed")
                continue
            where = f"{method.upper()} {path}"
            old_params = {(p["in"], p["name"]): p for p in old_op.get("parameters", [])}
            for p in new_op.get("parameters", []):
                key = (p["in"], p["name"])
                if p.get("required") and (key not in old_params or not old_params[key].get("required")):
                    problems.append(f"{where}: parameter {p['name']} became required")
            for key in old_params:
                if key not in {(p["in"], p["name"]) for p in new_op.get("parameters", [])}:
                    problems.append(f"{where}: parameter {key[1]} removed")
            old_body = old_op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            new_body = new_op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            if old_body and new_body:
                problems += _compare_schema(old, new, old_body, new_body, f"{where} body", request=True)
            for status, old_resp in old_op.get("responses", {}).items():
                new_resp = new_op.get("responses", {}).get(status)
                if new_resp is None:
                    continue
                o = old_resp.get("content", {}).get("application/json", {}).get("schema")
                n = new_resp.get("content", {}).get("application/json", {}).get("schema")
                if o and n:
                    problems += _compare_schema(old, new, o, n, f"{where} {status}", request=False)
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["export", "compat"])
    parser.add_argument("service", choices=["credit", "sharing"])
    args = parser.parse_args()
    target = contract_path(args.service)
    if args.action == "export":
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(app_document(args.service), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {target.relative_to(ROOT)}")
        return 0
    current = json.loads(target.read_text(encoding="utf-8"))
    failures = []
    for released in sorted((target.parent / "released").glob("*.json")):
        for problem in incompatibilities(json.loads(released.read_text(encoding="utf-8")), current):
            failures.append(f"against {released.name}: {problem}")
    print("\n".join(failures) or "compatible with every released version")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
