"""The simulated market-regulation registry served over HTTP, paging by cursor (feed contract v1):

`GET /v1/feeds/registration?kind=full|delta&since_sequence=N&cursor=C&limit=L` answers
`{kind, sequence, base_sequence, record_count, items, next_cursor}`; a delta request answers the
next delta after `since_sequence`; deltas older than `keep_deltas` answer 410 (take a full snapshot).
"""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import FastAPI, Query

from services.kit.errors import ProblemError, install_problem_handlers
from services.kit.http import OrjsonResponse, RequestContextMiddleware
from services.sharing.simulator.generate import Registry, samr_item


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o{offset}".encode()).decode()


def _offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        if not text.startswith("o"):
            raise ValueError(text)
        return int(text[1:])
    except ValueError as exc:
        raise ProblemError(400, "invalid_cursor", "cursor is not one this server issued") from exc


def create_simulator_app(*, seed: int = 1, size: int = 10_000, latest: int = 3, keep_deltas: int = 30,
                         change_rate: float = 0.02) -> FastAPI:
    registry = Registry(seed=seed, size=size, change_rate=change_rate)
    app = FastAPI(title="market-regulation registration feed (simulator)", version="1.0.0",
                  default_response_class=OrjsonResponse)
    app.add_middleware(RequestContextMiddleware, max_body_bytes=1024)
    install_problem_handlers(app)
    app.state.latest = latest
    deltas: dict[int, list[int]] = {}

    @app.get("/v1/feeds/registration")
    def feed(kind: Annotated[str, Query(pattern="^(full|delta)$")] = "full",
             since_sequence: Annotated[int | None, Query(ge=0)] = None,
             cursor: str | None = None, limit: Annotated[int, Query(ge=1, le=10_000)] = 5000) -> dict[str, Any]:
        now = int(app.state.latest)
        offset = _offset(cursor)
        if kind == "full":
            total = registry.count_at(now)
            end = min(offset + limit, total)
            items = [samr_item(registry.state(i, now)) for i in range(offset, end)]
            return {"kind": "full", "sequence": now, "base_sequence": None, "record_count": total,
                    "items": items, "next_cursor": _cursor(end) if end < total else None}
        if since_sequence is None:
            raise ProblemError(400, "since_sequence_required", "a delta request names since_sequence")
        if since_sequence < now - keep_deltas:
            raise ProblemError(410, "delta_gone", f"deltas before {now - keep_deltas} are gone: take a full snapshot")
        k = since_sequence + 1
        if k > now:
            return {"kind": "delta", "sequence": since_sequence, "base_sequence": since_sequence,
                    "record_count": 0, "items": [], "next_cursor": None}
        if k not in deltas:
            deltas[k] = registry.delta_indices(k)
        indices = deltas[k]
        end = min(offset + limit, len(indices))
        items = [samr_item(registry.state(i, k)) for i in indices[offset:end]]
        return {"kind": "delta", "sequence": k, "base_sequence": k - 1, "record_count": len(indices),
                "items": items, "next_cursor": _cursor(end) if end < len(indices) else None}

    return app
