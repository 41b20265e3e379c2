"""The hot path: the few operations that carry most of the traffic (a unit read, a credit check),
served by plain ASGI dispatch inside the service's own middleware (request context, audit) but in
front of the framework's router and dependency resolution, which cost more CPU than the operation.

The framework's routes stay declared: they make the contract, and they serve when the hot path is
off. A hot handler resolves the same dependencies by hand, in the order the framework would, and
calls the same endpoint function; `tests/credit/checks/test_hot_path.py` holds both paths to identical
answers, bad input included. Reading and validating a JSON body follows the framework too
(`read_json_body`, `validated_body`), so a refused body gets the same problem either way.
"""

from __future__ import annotations

import email.message
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi.dependencies.utils import request_body_to_args
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic_core import PydanticUndefined
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from services.kit.errors import ProblemError, http_problem, problem_for, validation_problem

HotHandler = Callable[[Request, str], Awaitable[Response]]
NO_BODY: Any = PydanticUndefined  # what the framework hands to validation for an empty body


@dataclass(frozen=True)
class HotRoute:
    """`path` is either exact (`/v1/credit-checks`) or a prefix ending in `/{name}` whose last
    segment is the one path parameter (`/v1/units/{uscc}`); `route` is the declared route it
    stands for (the audit names its operation, the body is validated against its model)."""

    method: str
    path: str
    route: APIRoute
    handler: HotHandler

    @property
    def param(self) -> str | None:
        if self.path.endswith("}"):
            return self.path[self.path.rindex("{") + 1 : -1]
        return None

    @property
    def prefix(self) -> str:
        return self.path[: self.path.rindex("{")] if self.param else self.path


class HotPath:
    def __init__(self, app: ASGIApp, *, routes: Sequence[HotRoute]) -> None:
        self.app = app
        self._exact = {(r.method, r.path): r for r in routes if r.param is None}
        self._by_prefix = [(r.method, r.prefix, r) for r in routes if r.param is not None]

    def match(self, method: str, path: str) -> tuple[HotRoute, str] | None:
        hot = self._exact.get((method, path))
        if hot is not None:
            return hot, ""
        for m, prefix, route in self._by_prefix:
            # one segment, as the framework's `{name}` matches: non-empty, no slash
            if m == method and path.startswith(prefix):
                rest = path[len(prefix) :]
                if rest and "/" not in rest:
                    return route, rest
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (found := self.match(scope["method"], scope["path"])) is None:
            await self.app(scope, receive, send)
            return
        hot, rest = found
        scope["route"] = hot.route
        scope["endpoint"] = hot.route.endpoint
        scope["path_params"] = {hot.param: rest} if hot.param else {}
        request = Request(scope, receive, send)
        try:
            response = await hot.handler(request, rest)
        except ProblemError as exc:
            response = problem_for(request, exc)
        except RequestValidationError as exc:
            response = validation_problem(request, exc)
        except HTTPException as exc:
            response = http_problem(request, exc)
        await response(scope, receive, send)


def _is_json(content_type: str) -> bool:
    if content_type == "application/json":
        return True
    message = email.message.Message()
    message["content-type"] = content_type
    if message.get_content_maintype() != "application":
        return False
    subtype = message.get_content_subtype()
    return subtype == "json" or subtype.endswith("+json")


async def read_json_body(request: Request) -> Any:
    """The request body as the framework reads it before resolving dependencies: parsed when it is
    declared JSON, the raw bytes when it is not (validation refuses them), `NO_BODY` when empty; an
    unparsable JSON body is refused at once, with the parser's position of the error."""
    raw = await request.body()
    if not raw:
        return NO_BODY
    content_type = request.headers.get("content-type")
    if not content_type or not _is_json(content_type):
        return raw
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    # what orjson refuses the standard parser may still take (NaN, UTF-16, huge integers), and
    # where it fails too its error position is the one the framework reports
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise RequestValidationError(
            [
                {
                    "type": "json_invalid",
                    "loc": ("body", exc.pos),
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": exc.msg},
                }
            ],
            body=exc.doc,
        ) from exc
    except Exception as exc:  # bytes in no encoding JSON allows: the framework's wording
        raise HTTPException(status_code=400, detail="There was an error parsing the body") from exc


async def validated_body(route: APIRoute, body: Any) -> Any:
    """The body validated against the declared route's body model, exactly as the framework does."""
    fields = route.dependant.body_params
    assert len(fields) == 1, f"{route.path} does not take one body"
    values, errors = await request_body_to_args(
        body_fields=fields, received_body=body, embed_body_fields=route._embed_body_fields
    )
    if errors:
        raise RequestValidationError(errors, body=None if body is NO_BODY else body)
    return values[fields[0].name]


def find_route(routes: Sequence[Any], name: str) -> APIRoute:
    for route in routes:
        if isinstance(route, APIRoute) and route.name == name:
            return route
    raise LookupError(f"no declared route named {name}")
