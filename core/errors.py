"""Domain errors and the one place that turns every error into `{"detail", "code"}` JSON."""

from __future__ import annotations

import difflib
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)


class FieldError(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    detail: str
    code: str
    errors: list[FieldError] | None = Field(
        None, description="On 400 `invalid_request`: one entry per offending field."
    )


class DomainError(Exception):
    """Raised by services; mapped to an HTTP answer by `install_error_handlers`."""

    status_code = 400
    code = "bad_request"
    detail = "Bad request"

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(detail or self.detail)
        self.detail = detail or self.detail
        self.headers = headers
        self.extra = extra


class InvalidRequest(DomainError):
    status_code = 400
    code = "invalid_request"

    def __init__(self, detail: str, *, field: str | None = None, **extra: Any):
        errors = [{"field": field, "message": detail}] if field else []
        super().__init__(detail, errors=errors, **extra)


class Unauthorized(DomainError):
    status_code = 401
    code = "unauthorized"
    detail = "Not authenticated"

    def __init__(self, detail: str | None = None, **extra: Any):
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"}, **extra)


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"
    detail = "Forbidden"


class AccountSuspended(Forbidden):
    code = "account_suspended"
    detail = "This account is suspended"


class NotFound(DomainError):
    status_code = 404
    code = "not_found"
    detail = "Not found"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"
    detail = "Conflict"


class InsufficientCredits(DomainError):
    status_code = 402
    code = "insufficient_credits"
    detail = "Insufficient credits"


class PayloadTooLarge(DomainError):
    status_code = 413
    code = "payload_too_large"
    detail = "Request body too large"


class RateLimited(DomainError):
    status_code = 429
    code = "rate_limited"
    detail = "Too many requests"


class ServiceUnavailable(DomainError):
    status_code = 503
    code = "service_unavailable"
    detail = "Service temporarily unavailable"


# Paths served to OpenAI's client libraries, which read an error's message from
# `{"error": {"message", "type", "code"}}`: their error bodies carry that object as well.
OPENAI_SHAPED_PATHS = ("/v1/chat/", "/v1/models")


def error_json(
    status_code: int,
    detail: str,
    code: str,
    headers: dict[str, str] | None = None,
    *,
    request: Request | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {"detail": detail, "code": code, **extra}
    if request is not None and request.url.path.startswith(OPENAI_SHAPED_PATHS):
        body["error"] = {"message": detail, "type": code, "code": code}
    return JSONResponse(body, status_code=status_code, headers=headers)


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    503: "service_unavailable",
}

_DESCRIPTIONS = {
    400: "Bad request",
    401: "Not authenticated",
    402: "Insufficient credits",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    413: "Request body too large",
    429: "Too many requests",
    500: "Server error",
    503: "Service unavailable",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for error statuses, all with the ErrorBody shape."""
    return {code: {"model": ErrorBody, "description": _DESCRIPTIONS.get(code, "Error")} for code in codes}


def _field_name(loc: tuple | list) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or str(loc[0] if loc else "body")


def _body_model(request: Request, loc: tuple | list) -> type[BaseModel] | None:
    """The pydantic model that holds the field at `loc` in the route's JSON body, if any."""
    body_field = getattr(request.scope.get("route"), "body_field", None)
    model = getattr(getattr(body_field, "field_info", None), "annotation", None)
    for part in list(loc)[1:-1]:  # walk nested objects ("body", ..., the unknown name)
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        field = next((f for n, f in model.model_fields.items() if part in (n, f.alias)), None)
        model = field.annotation if field else None
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _unknown_field_message(request: Request, loc: tuple | list) -> str:
    """ "Unknown field 'output_schema'; did you mean 'response_schema'? Allowed: ..." — a typo or
    another API's name gets the closest of our names instead of a bare "extra inputs"."""
    name = str(loc[-1]) if loc else ""
    model = _body_model(request, loc) if loc and loc[0] == "body" else None
    if model is None:
        return f"Unknown field {name!r}"
    allowed = [f.alias or n for n, f in model.model_fields.items()]
    close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else "."
    return f"Unknown field {name!r}{hint} Allowed fields: {', '.join(allowed)}"


def _nul_path(value: Any, path: str) -> str | None:
    """The dotted path of the first string holding a NUL character, keys included."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            inner = f"{path}.{key}" if path else str(key)
            found = inner if "\x00" in str(key) else _nul_path(item, inner)
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _nul_path(item, f"{path}[{index}]")
            if found:
                return found
    return None


async def refuse_nul_characters(request: Request) -> None:
    """PostgreSQL stores no NUL character in text or jsonb: a JSON body carrying one is a 400
    naming the field, not a 500 from the first INSERT. The byte search keeps it off other bodies."""
    if request.method not in ("POST", "PUT", "PATCH") or "json" not in request.headers.get(
        "content-type", ""
    ):
        return
    body = await request.body()
    if b"\\u0000" not in body and b"\x00" not in body:
        return
    import json

    try:
        data = json.loads(body)
    except ValueError:
        return  # malformed JSON: the route's own parsing answers it
    model = _body_model(request, ("body", "")) if isinstance(data, dict) else None
    if model is None:  # no model to name the field by
        field = "body" if _nul_path(data, "") else None
    else:  # keys the model does not know are its validation's business
        known = {*model.model_fields, *(f.alias for f in model.model_fields.values() if f.alias)}
        field = _nul_path({key: value for key, value in data.items() if key in known}, "")
    if field:
        raise InvalidRequest(f"{field} may not contain a NUL character", field=field)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        return error_json(exc.status_code, exc.detail, exc.code, exc.headers, request=request, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "field": _field_name(e.get("loc", ())),
                "message": _unknown_field_message(request, e.get("loc", ()))
                if e.get("type") == "extra_forbidden"
                else e.get("msg", "invalid"),
            }
            for e in exc.errors()
        ]
        fields = sorted({e["field"] for e in errors})
        detail = f"Invalid request: {', '.join(fields)}" if fields else "Invalid request"
        unknown = [e["message"] for e in errors if e["message"].startswith("Unknown field")]
        if unknown:
            detail = f"{detail}. {' '.join(unknown)}"
        return error_json(400, detail, "invalid_request", request=request, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "error")
        detail = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        return error_json(exc.status_code, detail, code, getattr(exc, "headers", None), request=request)

    async def _outage(request: Request, exc: Exception) -> JSONResponse:
        log.warning(
            "storage unavailable during %s %s: %s", request.method, request.url.path, type(exc).__name__
        )
        return error_json(
            503,
            "Storage temporarily unavailable, try again shortly",
            "database_unavailable",
            {"Retry-After": "2"},
        )

    # Registered by class so they are answered (503) rather than re-raised as server errors.
    for outage in _storage_outages():
        app.add_exception_handler(outage, _outage)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error during %s %s", request.method, request.url.path)
        return error_json(500, "Internal server error", "internal_error")


def _storage_outages() -> tuple[type[Exception], ...]:
    import psycopg
    import psycopg_pool
    import redis.exceptions

    return (
        psycopg.OperationalError,
        psycopg_pool.PoolTimeout,
        redis.exceptions.ConnectionError,
        redis.exceptions.TimeoutError,
    )
