"""ASGI middleware that leaves one audit entry per API request: who (client, department, user),
for what (case, purpose), which operation on which unit, the answer's status and a digest of the
answer's bytes. The final body chunk is held back until the entry is stored, so a client never
receives a complete answer that was not audited."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote

from cryptography.hazmat.primitives import hashes
from starlette.types import ASGIApp, Message, Receive, Scope, Send

AuditSink = Callable[[dict[str, Any]], Awaitable[None]]
_log = logging.getLogger("kit.audit")
AUDITED_PREFIX = "/v1/"
NOT_AUDITED = ("/v1/oauth/jwks",)
_CONTEXT_HEADERS = frozenset((b"x-user-id", b"x-case-id", b"x-purpose"))


def set_subject(scope_state: Any, *, uscc: str | None = None, purpose: str | None = None) -> None:
    """Endpoints name the unit (and purpose) when the path does not carry it."""
    if uscc is not None:
        scope_state.audit_subject = uscc
    if purpose is not None:
        scope_state.audit_purpose = purpose


class AuditMiddleware:
    def __init__(self, app: ASGIApp, *, algorithm: str = "sm3") -> None:
        self.app = app
        self.hash = hashes.SM3 if algorithm == "sm3" else hashes.SHA256

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(AUDITED_PREFIX) or path in NOT_AUDITED:
            await self.app(scope, receive, send)
            return
        digest = hashes.Hash(self.hash())
        status = 0

        async def audited_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                digest.update(message.get("body", b""))
                if not message.get("more_body", False):
                    await self._store(scope, status, digest.finalize().hex())
            await send(message)

        await self.app(scope, receive, audited_send)

    async def _store(self, scope: Scope, status: int, result_digest: str) -> None:
        sink: AuditSink | None = getattr(scope["app"].state, "audit_sink", None)
        if sink is None:
            return
        state = scope.get("state", {})
        principal = state.get("principal")
        route = scope.get("route")
        headers = {}
        for k, v in scope.get("headers", ()):
            if k in _CONTEXT_HEADERS:
                headers[k.decode("latin-1")] = v.decode("utf-8", "replace")
        path_params = scope.get("path_params", {})
        entry = {
            "client_id": getattr(principal, "client_id", None) or state.get("claimed_client") or "anonymous",
            "department": getattr(principal, "department", None) or "",
            "user_id": header_text(headers.get("x-user-id")),
            "case_id": header_text(headers.get("x-case-id")),
            "purpose": state.get("audit_purpose") or header_text(headers.get("x-purpose")),
            "operation": getattr(route, "name", None) or "unrouted",
            "method": scope.get("method", ""),
            "path": scope.get("path", "")[:500],
            "status": status,
            "subject_uscc": state.get("audit_subject") or _uscc_of(path_params.get("uscc")),
            "request_id": state.get("request_id") or "",
            "result_digest": result_digest,
        }
        try:
            await sink(entry)
        except Exception:
            # fail closed: the answer is not completed when its audit entry could not be stored
            _log.critical("audit entry could not be stored; answer withheld", exc_info=True)
            raise


def header_text(value: str | None) -> str | None:
    """Caller-context headers carry Chinese text percent-encoded as UTF-8 (HTTP headers are ASCII):
    `X-Case-Id: %E5%BB%B6...` reads as 延...; plain ASCII passes unchanged."""
    if value is None or value == "":
        return None
    return unquote(value, encoding="utf-8", errors="replace")


def _uscc_of(value: object) -> str | None:
    if isinstance(value, str) and len(value) == 18 and value.isalnum():
        return value.upper()
    return None
