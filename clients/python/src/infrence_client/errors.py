"""Exceptions carrying the API's `code`, one class per status a caller reacts to differently."""

from __future__ import annotations

from typing import Any

import httpx


class InfrenceError(Exception):
    """Base of every error this client raises."""


class APIConnectionError(InfrenceError):
    """The server could not be reached (after the retries)."""


class APIStatusError(InfrenceError):
    """The API answered with an error: `status`, `code` (e.g. `insufficient_credits`), `detail`."""

    def __init__(
        self, status: int, code: str, detail: str, body: Any = None, headers: httpx.Headers | None = None
    ):
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.body = body
        self.headers = headers or httpx.Headers()

    @property
    def field_errors(self) -> list[dict]:
        """`[{"field", "message"}]` for a 400."""
        return list(self.body.get("errors", [])) if isinstance(self.body, dict) else []


class InvalidRequestError(APIStatusError):
    """400: the request named a bad field (see `field_errors`)."""


class AuthenticationError(APIStatusError):
    """401: missing, wrong or revoked API key."""


class InsufficientCreditsError(APIStatusError):
    """402: the balance does not cover the mode's price."""


class PermissionDeniedError(APIStatusError):
    """403: e.g. `account_suspended`."""


class NotFoundError(APIStatusError):
    """404."""


class ConflictError(APIStatusError):
    """409: e.g. an idempotency key reused with another body."""


class RateLimitError(APIStatusError):
    """429 after the retries; `retry_after` says how long to wait (seconds)."""

    @property
    def retry_after(self) -> float | None:
        return retry_after_secs(self.headers)


class ServiceUnavailableError(APIStatusError):
    """503 after the retries."""


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    402: InsufficientCreditsError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    429: RateLimitError,
    503: ServiceUnavailableError,
}


def retry_after_secs(headers: httpx.Headers) -> float | None:
    value = headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def error_for(response: httpx.Response) -> APIStatusError:
    """The exception for an error response, with the API's `code` and `detail`."""
    try:
        body = response.json()
    except ValueError:
        body = None
    code = body.get("code", "error") if isinstance(body, dict) else "error"
    detail = body.get("detail", response.reason_phrase) if isinstance(body, dict) else response.text[:500]
    cls = _BY_STATUS.get(response.status_code, APIStatusError)
    return cls(response.status_code, str(code), str(detail), body, response.headers)
