"""Retries with backoff for provider calls, configured by LangGraph's `RetryPolicy`.

Retries run per provider call rather than per node: a node-level retry would redo (and
re-bill) the searches and reads a branch already finished, and lose their metering. The
policy's own `retry_on` default skips `TimeoutError`/`OSError`, so ours is explicit:
429, 5xx, timeouts and connection failures — never sooner than a `Retry-After` asks, and
never past the deadline.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx
from langgraph.types import RetryPolicy

T = TypeVar("T")


def is_transient(exc: BaseException) -> bool:
    """429, 5xx, timeouts and connection failures: worth another attempt."""
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code == 429 or exc.response.status_code >= 500
    if isinstance(exc, (httpx.TimeoutException, httpx.TransportError, TimeoutError, ConnectionError)):
        return True
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return status == 429 or status >= 500
    module = type(exc).__module__
    name = type(exc).__name__
    if module.startswith("openai"):
        return name in ("APITimeoutError", "APIConnectionError", "RateLimitError", "InternalServerError")
    if module.startswith("tavily"):
        return name in ("UsageLimitExceededError", "TimeoutError")
    return False


def was_refused(exc: BaseException) -> bool:
    """The provider answered with an error status, so the attempt was not billed."""
    if isinstance(exc, httpx.HTTPStatusError):
        return True
    if isinstance(getattr(exc, "status_code", None), int):
        return True
    return type(exc).__module__.startswith("tavily") and type(exc).__name__ != "TimeoutError"


def retry_after_secs(exc: BaseException) -> float | None:
    """The wait a refusal asked for in its `Retry-After` header (the seconds form), if any."""
    headers = getattr(getattr(exc, "response", None), "headers", None)
    value = headers.get("retry-after") if headers is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:  # the HTTP-date form: our own backoff applies
        return None


DEFAULT_RETRY = RetryPolicy(
    initial_interval=0.25,
    backoff_factor=2.0,
    max_interval=4.0,
    max_attempts=3,
    jitter=True,
    retry_on=is_transient,
)


async def with_retries(call: Callable[[], Awaitable[T]], *, policy: RetryPolicy, deadline: float) -> T:
    """Run `call`, retrying what `policy.retry_on` accepts, as long as the wait ends before `deadline`."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return await call()
        except Exception as exc:
            if attempt >= policy.max_attempts or not _should_retry(policy, exc):
                raise
            delay = min(policy.max_interval, policy.initial_interval * policy.backoff_factor ** (attempt - 1))
            if policy.jitter:
                delay += random.uniform(0, delay / 4)
            delay = max(delay, retry_after_secs(exc) or 0.0)
            if time.time() + delay >= deadline:
                raise
            await asyncio.sleep(delay)


def _should_retry(policy: RetryPolicy, exc: Exception) -> bool:
    retry_on = policy.retry_on
    if callable(retry_on) and not isinstance(retry_on, type):
        return bool(retry_on(exc))
    classes = tuple(retry_on) if not isinstance(retry_on, type) else (retry_on,)
    return isinstance(exc, classes)
