"""RFC 9457 problem details for every error a service answers, bad input above all.

Each problem names the failing field(s) in `errors[].field` as a JSON pointer-ish dotted path
(`body.persons.0.citizen_id`), so a calling system can show the clerk what to fix.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_MEDIA_TYPE = "application/problem+json"
_log = logging.getLogger("kit.errors")

_TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    412: "Precondition failed",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    428: "Precondition required",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


class FieldError(BaseModel):
    field: str = Field(description="Dotted path of the failing input, e.g. `body.persons.0.citizen_id`.")
    reason: str = Field(description="Why the value was refused, in plain words.")


class Problem(BaseModel):
    """RFC 9457 problem details. Clients must tolerate extra members."""

    type: str = Field(default="about:blank", description="URI naming the problem type.")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    code: str = Field(description="Stable machine-readable problem code, e.g. `unit_not_found`.")
    request_id: str | None = None
    errors: list[FieldError] = Field(default_factory=list)
    existing: str | None = Field(
        default=None, description="Where a conflict names an existing resource: its id or location."
    )


class ProblemError(Exception):
    """Raise anywhere below an endpoint to answer with a problem."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str | None = None,
        *,
        errors: Sequence[FieldError] | None = None,
        existing: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail or code)
        self.status = status
        self.code = code
        self.detail = detail
        self.errors = list(errors or [])
        self.existing = existing
        self.headers = dict(headers or {})


def field_problem(status: int, code: str, field: str, reason: str) -> ProblemError:
    return ProblemError(status, code, reason, errors=[FieldError(field=field, reason=reason)])


def problem_body(
    status: int,
    code: str,
    detail: str | None = None,
    *,
    errors: Sequence[FieldError] = (),
    instance: str | None = None,
    request_id: str | None = None,
    existing: str | None = None,
) -> bytes:
    body: dict[str, Any] = {
        "type": f"https://errors.fire-credit.yanbian.gov.cn/{code}",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "code": code,
        "errors": [e.model_dump() for e in errors],
    }
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    if request_id:
        body["request_id"] = request_id
    if existing:
        body["existing"] = existing
    return orjson.dumps(body)


def problem_response(
    request: Request | None,
    status: int,
    code: str,
    detail: str | None = None,
    *,
    errors: Sequence[FieldError] = (),
    existing: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body = problem_body(
        status,
        code,
        detail,
        errors=errors,
        instance=request.url.path if request is not None else None,
        request_id=getattr(request.state, "request_id", None) if request is not None else None,
        existing=existing,
    )
    return Response(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _loc_to_field(loc: Sequence[Any]) -> str:
    # pydantic adds the discriminator tag and model names to the location; drop them for the clerk
    parts = [str(p) for p in loc if not (isinstance(p, str) and p.startswith("function-"))]
    return ".".join(parts)


def _validation_errors(exc: RequestValidationError) -> list[FieldError]:
    out = []
    for err in exc.errors():
        reason = str(err.get("msg", "invalid"))
        if reason.startswith("Value error, "):
            reason = reason[len("Value error, ") :]
        out.append(FieldError(field=_loc_to_field(err.get("loc", ())), reason=reason))
    return out


def problem_for(request: Request, exc: ProblemError) -> Response:
    return problem_response(
        request, exc.status, exc.code, exc.detail, errors=exc.errors, existing=exc.existing, headers=exc.headers
    )


def validation_problem(request: Request, exc: RequestValidationError) -> Response:
    errors = _validation_errors(exc)
    first = errors[0].field if errors else "body"
    return problem_response(request, 422, "invalid_input", f"invalid input at {first}", errors=errors)


def http_problem(request: Request, exc: StarletteHTTPException) -> Response:
    code = {400: "invalid_body", 404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    detail = exc.detail if isinstance(exc.detail, str) else None
    errors = [FieldError(field="body", reason=detail or "unreadable body")] if exc.status_code == 400 else []
    return problem_response(request, exc.status_code, code, detail, errors=errors, headers=exc.headers)


def install_problem_handlers(app: FastAPI) -> None:
    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ProblemError)
        return problem_for(request, exc)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return validation_problem(request, exc)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        return http_problem(request, exc)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        _log.exception("unhandled error", extra={"path": request.url.path})
        return problem_response(request, 500, "internal_error", "an unexpected error occurred; it was logged")

    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entry documenting problem+json answers for the given statuses."""
    return {s: {"model": Problem, "description": _TITLES.get(s, "Error")} for s in statuses}


def document_problems(openapi: dict[str, Any]) -> None:
    """Errors are sent as application/problem+json: say so in the document, with the Problem schema.
    Every operation that takes a body may also answer 400 (unreadable JSON) and 413 (too large)."""
    for operations in openapi.get("paths", {}).values():
        for operation in operations.values():
            if "requestBody" in operation:
                for status in ("400", "413"):
                    operation["responses"].setdefault(status, {"description": _TITLES[int(status)]})
            if operation.get("security"):
                for status in ("401", "403", "429"):
                    operation["responses"].setdefault(status, {"description": _TITLES[int(status)]})
            for status, response in operation.get("responses", {}).items():
                if status.isdigit() and int(status) >= 400:
                    response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
                    if status == "422":
                        response["description"] = _TITLES[422]
    schemas = openapi.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)


def add_component_schemas(openapi: dict[str, Any], *models: type[BaseModel]) -> None:
    """Publish models that endpoints validate themselves (raw bodies parsed for speed) in the document."""
    schemas = openapi.setdefault("components", {}).setdefault("schemas", {})
    for model in models:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode="validation")
        for name, definition in schema.pop("$defs", {}).items():
            schemas.setdefault(name, definition)
        schemas[model.__name__] = schema
