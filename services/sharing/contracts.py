"""Write sharing's contracts: the registration feed record schema and sharing's OpenAPI document.

    .venv/bin/python -m services.sharing.contracts          # rewrite
    .venv/bin/python -m services.sharing.contracts --check  # exit 1 when a file is stale (CI)
"""

from __future__ import annotations

import pathlib
import sys
from typing import Any

import orjson

from services.sharing.feeds.contract import FeedRecordModel

ROOT = pathlib.Path(__file__).resolve().parents[2]
FEED_DIR = ROOT / "contracts" / "feeds" / "registration" / "v1"
API_DIR = ROOT / "contracts" / "sharing" / "v1"


def documents() -> dict[pathlib.Path, dict[str, Any]]:
    from services.sharing.app import create_app

    record = FeedRecordModel.model_json_schema()
    record["$id"] = "https://fire-credit.yanbian.gov.cn/contracts/feeds/registration/v1/record.schema.json"
    record["x-version"] = "1.0.0"
    page = {
        "$id": "https://fire-credit.yanbian.gov.cn/contracts/feeds/registration/v1/page.schema.json",
        "title": "RegistrationFeedPage",
        "description": "One page of an HTTP registration source (GET ?kind=&since_sequence=&cursor=&limit=). "
                       "Items are in the source's own layout, mapped by configuration.",
        "type": "object",
        "required": ["kind", "sequence", "items", "next_cursor"],
        "properties": {
            "kind": {"enum": ["full", "delta"]},
            "sequence": {"type": "integer", "minimum": 0},
            "base_sequence": {"type": ["integer", "null"], "description": "A delta's base; null for a full."},
            "record_count": {"type": ["integer", "null"], "description": "Records in the whole feed (checked)."},
            "items": {"type": "array",
                      "items": {"type": "object", "additionalProperties": {"type": ["string", "null"]}}},
            "next_cursor": {"type": ["string", "null"], "description": "Opaque; null on the last page."},
        },
    }
    manifest = {
        "$id": "https://fire-credit.yanbian.gov.cn/contracts/feeds/registration/v1/manifest.schema.json",
        "title": "RegistrationFeedManifest",
        "description": "Sidecar `<file>.manifest.json` of a feed file.",
        "type": "object",
        "required": ["kind"],
        "properties": {
            "kind": {"enum": ["full", "delta"]},
            "sequence": {"type": ["integer", "null"]},
            "base_sequence": {"type": ["integer", "null"]},
            "record_count": {"type": ["integer", "null"]},
            "produced_at": {"type": ["string", "null"], "format": "date-time"},
        },
    }
    return {
        FEED_DIR / "record.schema.json": record,
        FEED_DIR / "page.schema.json": page,
        FEED_DIR / "manifest.schema.json": manifest,
        API_DIR / "openapi.json": create_app().openapi(),
    }


def main() -> int:
    check = "--check" in sys.argv
    stale = []
    for path, doc in documents().items():
        text = orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
        if check:
            if not path.exists() or path.read_bytes() != text:
                stale.append(str(path.relative_to(ROOT)))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(text)
    if stale:
        print("stale contracts (run python -m services.sharing.contracts): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
