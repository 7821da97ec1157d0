"""`Infrence` (sync) and `AsyncInfrence`: the research API with the habits a client should have.

- Retries 429 and 503 (and connection errors) honouring `Retry-After`, up to `max_retries`.
- Every create carries an `Idempotency-Key` (a fresh one unless you pass yours), reused by the
  retries, so a retried create never starts or charges a second job.
- `events()` follows a job's SSE stream and, when the connection drops, reconnects with
  `Last-Event-ID` so no event is lost or repeated, until the terminal event.
- `research()` waits for the result (synchronous answer, or the stream of an async job);
  `research_stream()` yields the events as they happen.
- Errors raise `APIStatusError` subclasses carrying the API's `code`.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
from pydantic import BaseModel

from infrence_client.errors import APIConnectionError, error_for, retry_after_secs
from infrence_client.events import Event, SSEParser
from infrence_client.models import AsyncAccepted, ResearchResult

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
RETRY_STATUSES = frozenset({429, 503})
MAX_RETRY_WAIT_SECS = 60.0
CONNECTION_ERRORS = (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError, httpx.ReadTimeout)


class _Config:
    """What both clients share: where, who, and how patient."""

    def __init__(self, api_key: str | None, base_url: str | None, max_retries: int, timeout: float):
        self.api_key = api_key or os.environ.get("INFRENCE_API_KEY")
        if not self.api_key:
            raise ValueError("pass api_key= or set INFRENCE_API_KEY (create a key in the dashboard)")
        self.base_url = (base_url or os.environ.get("INFRENCE_URL") or DEFAULT_BASE_URL).rstrip("/")
        self.max_retries = max_retries
        self.timeout = timeout

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}", "User-Agent": "infrence-client-python/0.1"}

    def retry_delay(self, attempt: int, response: httpx.Response | None) -> float | None:
        """Seconds to wait before retry number `attempt` (1-based), or None to give up."""
        if attempt > self.max_retries:
            return None
        if response is not None:
            if response.status_code not in RETRY_STATUSES:
                return None
            offered = retry_after_secs(response.headers)
            if offered is not None:
                return min(offered, MAX_RETRY_WAIT_SECS)
        return min(0.5 * 2 ** (attempt - 1), MAX_RETRY_WAIT_SECS)


def _json_value(value: Any) -> Any:
    """Typed parameters as JSON: models (`SourcePolicy(...)`) by their fields, ids as strings."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_none=True)
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _create_body(question: str, params: dict[str, Any]) -> dict[str, Any]:
    """The create body from keyword parameters, e.g. `mode="lite"`, `run_async=True`,
    `source_policy=SourcePolicy(include_domains=[...])`, `output_language="de"`,
    `previous_job_id=earlier.id` (a follow-up)."""
    body = {"question": question, **{k: _json_value(v) for k, v in params.items() if v is not None}}
    if "run_async" in body:  # `async` is a Python keyword
        body["async"] = body.pop("run_async")
    return body


def _extend_body(max_credits: int | None, mode: str | None) -> dict[str, Any]:
    return {k: v for k, v in {"max_credits": max_credits, "mode": mode}.items() if v is not None}


def _created(response: httpx.Response) -> ResearchResult | AsyncAccepted:
    data = response.json()
    return (
        AsyncAccepted.model_validate(data)
        if response.status_code == 202
        else ResearchResult.model_validate(data)
    )


def _result_of(event: Event) -> ResearchResult | None:
    """Terminal events carry the full result (under `result`, or as the data itself)."""
    data = event.data.get("result", event.data)
    return ResearchResult.model_validate(data) if isinstance(data, dict) and "status" in data else None


class Infrence:
    """Synchronous client. `Infrence()` reads `INFRENCE_API_KEY` and `INFRENCE_URL`."""

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        max_retries: int = 3,
        timeout: float = 120.0,
        http_client: httpx.Client | None = None,
    ):
        self._config = _Config(api_key, base_url, max_retries, timeout)
        self._http = http_client or httpx.Client(timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Infrence:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**self._config.headers(), **kwargs.pop("headers", {})}
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._http.request(method, self._config.base_url + path, headers=headers, **kwargs)
            except CONNECTION_ERRORS as exc:
                delay = self._config.retry_delay(attempt, None)
                if delay is None:
                    raise APIConnectionError(f"cannot reach {self._config.base_url}: {exc}") from exc
            else:
                if response.is_success:
                    return response
                delay = self._config.retry_delay(attempt, response)
                if delay is None:
                    raise error_for(response)
            time.sleep(delay)

    def create_research(
        self, question: str, *, idempotency_key: str | None = None, **params: Any
    ) -> ResearchResult | AsyncAccepted:
        """POST /v1/research: a `ResearchResult` (200) or an `AsyncAccepted` (202)."""
        key = idempotency_key or str(uuid.uuid4())
        response = self._request(
            "POST", "/v1/research", json=_create_body(question, params), headers={"Idempotency-Key": key}
        )
        return _created(response)

    def get_research(self, job_id: str, *, wait: int | None = None) -> ResearchResult:
        params = {"wait": wait} if wait else None
        return ResearchResult.model_validate(
            self._request("GET", f"/v1/research/{job_id}", params=params).json()
        )

    def cancel_research(self, job_id: str) -> ResearchResult:
        return ResearchResult.model_validate(self._request("DELETE", f"/v1/research/{job_id}").json())

    def extend_research(
        self,
        job_id: str,
        *,
        max_credits: int | None = None,
        mode: str | None = None,
        idempotency_key: str | None = None,
    ) -> ResearchResult:
        """POST /v1/research/{id}/extend: continue a finished job with a larger budget (same id)."""
        response = self._request(
            "POST",
            f"/v1/research/{job_id}/extend",
            json=_extend_body(max_credits, mode),
            headers={"Idempotency-Key": idempotency_key or str(uuid.uuid4())},
        )
        return ResearchResult.model_validate(response.json())

    def approve_plan(self, job_id: str, queries: list[str]) -> ResearchResult:
        """POST /v1/research/{id}/plan: run a job awaiting approval with these queries (edited or not)."""
        response = self._request("POST", f"/v1/research/{job_id}/plan", json={"queries": queries})
        return ResearchResult.model_validate(response.json())

    def credits(self) -> dict[str, Any]:
        return self._request("GET", "/v1/credits").json()

    def events(self, job_id: str, *, last_event_id: str | None = None) -> Iterator[Event]:
        """The job's events until its terminal one, resuming with `Last-Event-ID` after a drop."""
        attempt = 0
        while True:
            headers = self._config.headers() | {"Accept": "text/event-stream"}
            if last_event_id:
                headers["Last-Event-ID"] = last_event_id
            url = f"{self._config.base_url}/v1/research/{job_id}/events"
            try:
                with self._http.stream(
                    "GET", url, headers=headers, timeout=httpx.Timeout(self._config.timeout, read=None)
                ) as response:
                    if not response.is_success:
                        response.read()
                        raise error_for(response)
                    parser = SSEParser()
                    for line in response.iter_lines():
                        event = parser.feed(line)
                        if event is None:
                            continue
                        attempt = 0
                        last_event_id = event.id or last_event_id
                        yield event
                        if event.is_terminal:
                            return
            except CONNECTION_ERRORS as exc:
                attempt += 1
                delay = self._config.retry_delay(attempt, None)
                if delay is None:
                    raise APIConnectionError(f"event stream of {job_id} lost: {exc}") from exc
                time.sleep(delay)
            # A stream that ended without a terminal event is resumed the same way.

    def research_stream(self, question: str, **params: Any) -> Iterator[Event]:
        """Create an async job and yield its events up to the terminal one."""
        accepted = self.create_research(question, run_async=True, **params)
        yield from self.events(str(accepted.id))

    def research(self, question: str, **params: Any) -> ResearchResult:
        """Ask and wait for the result, whichever way the API answers."""
        created = self.create_research(question, **params)
        if isinstance(created, ResearchResult):
            return created
        for event in self.events(str(created.id)):
            if event.is_terminal:
                return _result_of(event) or self.get_research(str(created.id))
        return self.get_research(str(created.id))


class AsyncInfrence:
    """Asynchronous client with the same methods as `Infrence`, awaited."""

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        max_retries: int = 3,
        timeout: float = 120.0,
        http_client: httpx.AsyncClient | None = None,
    ):
        self._config = _Config(api_key, base_url, max_retries, timeout)
        self._http = http_client or httpx.AsyncClient(timeout=timeout)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncInfrence:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**self._config.headers(), **kwargs.pop("headers", {})}
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self._http.request(
                    method, self._config.base_url + path, headers=headers, **kwargs
                )
            except CONNECTION_ERRORS as exc:
                delay = self._config.retry_delay(attempt, None)
                if delay is None:
                    raise APIConnectionError(f"cannot reach {self._config.base_url}: {exc}") from exc
            else:
                if response.is_success:
                    return response
                delay = self._config.retry_delay(attempt, response)
                if delay is None:
                    raise error_for(response)
            await asyncio.sleep(delay)

    async def create_research(
        self, question: str, *, idempotency_key: str | None = None, **params: Any
    ) -> ResearchResult | AsyncAccepted:
        key = idempotency_key or str(uuid.uuid4())
        response = await self._request(
            "POST", "/v1/research", json=_create_body(question, params), headers={"Idempotency-Key": key}
        )
        return _created(response)

    async def get_research(self, job_id: str, *, wait: int | None = None) -> ResearchResult:
        params = {"wait": wait} if wait else None
        response = await self._request("GET", f"/v1/research/{job_id}", params=params)
        return ResearchResult.model_validate(response.json())

    async def cancel_research(self, job_id: str) -> ResearchResult:
        return ResearchResult.model_validate((await self._request("DELETE", f"/v1/research/{job_id}")).json())

    async def extend_research(
        self,
        job_id: str,
        *,
        max_credits: int | None = None,
        mode: str | None = None,
        idempotency_key: str | None = None,
    ) -> ResearchResult:
        response = await self._request(
            "POST",
            f"/v1/research/{job_id}/extend",
            json=_extend_body(max_credits, mode),
            headers={"Idempotency-Key": idempotency_key or str(uuid.uuid4())},
        )
        return ResearchResult.model_validate(response.json())

    async def approve_plan(self, job_id: str, queries: list[str]) -> ResearchResult:
        response = await self._request("POST", f"/v1/research/{job_id}/plan", json={"queries": queries})
        return ResearchResult.model_validate(response.json())

    async def credits(self) -> dict[str, Any]:
        return (await self._request("GET", "/v1/credits")).json()

    async def events(self, job_id: str, *, last_event_id: str | None = None) -> AsyncIterator[Event]:
        attempt = 0
        while True:
            headers = self._config.headers() | {"Accept": "text/event-stream"}
            if last_event_id:
                headers["Last-Event-ID"] = last_event_id
            url = f"{self._config.base_url}/v1/research/{job_id}/events"
            try:
                async with self._http.stream(
                    "GET", url, headers=headers, timeout=httpx.Timeout(self._config.timeout, read=None)
                ) as response:
                    if not response.is_success:
                        await response.aread()
                        raise error_for(response)
                    parser = SSEParser()
                    async for line in response.aiter_lines():
                        event = parser.feed(line)
                        if event is None:
                            continue
                        attempt = 0
                        last_event_id = event.id or last_event_id
                        yield event
                        if event.is_terminal:
                            return
            except CONNECTION_ERRORS as exc:
                attempt += 1
                delay = self._config.retry_delay(attempt, None)
                if delay is None:
                    raise APIConnectionError(f"event stream of {job_id} lost: {exc}") from exc
                await asyncio.sleep(delay)

    async def research_stream(self, question: str, **params: Any) -> AsyncIterator[Event]:
        accepted = await self.create_research(question, run_async=True, **params)
        async for event in self.events(str(accepted.id)):
            yield event

    async def research(self, question: str, **params: Any) -> ResearchResult:
        created = await self.create_research(question, **params)
        if isinstance(created, ResearchResult):
            return created
        async for event in self.events(str(created.id)):
            if event.is_terminal:
                return _result_of(event) or await self.get_research(str(created.id))
        return await self.get_research(str(created.id))
