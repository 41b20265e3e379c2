"""ASGI plumbing every service uses: request ids, body size limit, security headers, fast JSON."""

from __future__ import annotations

import re
from typing import Any

import orjson
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.kit.errors import PROBLEM_MEDIA_TYPE, FieldError, ProblemError, problem_body
from services.kit.ids import new_request_id
from services.kit.logs import request_id_var

_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
]


class OrjsonResponse(JSONResponse):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


class RequestContextMiddleware:
    """Accepts or generates `X-Request-ID`, returns it, puts it in logs; limits the body size;
    adds security headers. Pure ASGI so streaming answers are not buffered."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        for key, value in scope["headers"]:
            if key == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        request_id = incoming if incoming and _REQUEST_ID_OK.match(incoming) else new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)

        request_id_header = (b"x-request-id", request_id.encode("latin-1"))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                # raw header pairs (lower-case names, as ASGI sends them): this runs on every answer
                headers = [h for h in message.get("headers", ()) if h[0] != b"x-request-id"]
                present = {name for name, _ in headers}
                headers.append(request_id_header)
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in present)
                message["headers"] = headers
            await send(message)

        try:
            declared = None
            for key, value in scope["headers"]:
                if key == b"content-length":
                    declared = int(value) if value.isdigit() else -1
            if declared is not None and (declared < 0 or declared > self.max_body_bytes):
                await self._too_large(send_with_headers, request_id)
                return
            received = 0

            async def limited_receive() -> Message:
                # chunked bodies carry no content-length: count what arrives
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > self.max_body_bytes:
                        raise ProblemError(
                            413,
                            "body_too_large",
                            f"request body exceeds {self.max_body_bytes} bytes",
                            errors=[FieldError(field="body", reason="too large")],
                        )
                return message

            await self.app(scope, limited_receive, send_with_headers)
        finally:
            request_id_var.reset(token)

    async def _too_large(self, send: Send, request_id: str) -> None:
        detail = f"request body exceeds {self.max_body_bytes} bytes"
        body = problem_body(
            413, "body_too_large", detail, errors=[FieldError(field="body", reason=detail)], request_id=request_id
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
