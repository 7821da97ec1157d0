"""The MCP server at `/mcp` (official `mcp` SDK, Streamable HTTP, stateless JSON responses).

Every request must carry `Authorization: Bearer ifr_…`: the endpoint refuses others with 401
before the SDK sees them, and each tool authenticates the key again to act as its owner, so a
tool call is charged and rate-limited like the same call on `/v1/research`.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any
from uuid import UUID

from fastapi import FastAPI
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import Receive, Scope, Send

from api.research.events import process_hub
from api.research.schemas import JobStatus, ResearchMode, ResearchRequest, SourcePolicy
from api.research.service import MAX_WAIT_SECS, JobService, result_of
from auth.api_keys import ApiKeyService
from auth.models import Caller
from core.errors import DomainError, InvalidRequest, Unauthorized, error_json
from core.pagination import MAX_LIMIT
from core.ratelimit import rate_limiter_of
from core.stream_slots import stream_slots_of

INSTRUCTIONS = (
    "Infrence runs cited deep research. Call `research` with a question; it answers within the "
    "sync cap or returns a job id to poll with `get_research`. Modes: lite (15 credits), "
    "standard (60), pro (200)."
)


def _bearer(headers: Any) -> str | None:
    value = (headers or {}).get("authorization") or ""
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _tool_errors(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """Our refusals (no credits, too many streams, a bad id) reach the client as tool errors
    carrying their code and detail; the SDK would report them as opaque crashes."""

    @functools.wraps(method)
    async def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return await method(*args, **kwargs)
        except DomainError as exc:
            raise ToolError(f"{exc.code}: {exc.detail}") from exc

    return call


class Tools:
    """The research tools, bound to the running app's services."""

    def __init__(self, app: FastAPI):
        self.app = app

    async def caller(self, ctx: Context) -> Caller:
        token = _bearer(ctx.headers)
        if token is None:
            raise Unauthorized("Missing API key")
        state = self.app.state
        return await ApiKeyService(state.db, state.redis).authenticate(token)

    def jobs(self) -> JobService:
        state = self.app.state
        return JobService(state.db, state.redis, state.settings, process_hub(state, state.redis))

    @_tool_errors
    async def research(self, ctx: Context, wait_secs: int, **fields: Any) -> dict:
        """`fields` are ResearchRequest's (question, mode, source_policy, ...); None means unset."""
        caller = await self.caller(ctx)
        state = self.app.state
        await rate_limiter_of(state).enforce(
            f"research:key:{caller.api_key_id}", state.settings.research_creates_per_minute, 60
        )
        try:
            request = ResearchRequest(**{name: value for name, value in fields.items() if value is not None})
        except ValueError as exc:
            raise InvalidRequest(f"invalid research request: {exc}") from None
        jobs = self.jobs()
        async with self.waiting(caller, wait_secs):  # before the job exists: refused, nothing charged
            job = await jobs.submit(caller.user.id, request, origin="api", api_key_id=caller.api_key_id)
            job = await jobs.wait_until_terminal(job, min(max(wait_secs, 0), MAX_WAIT_SECS))
        return result_of(job).model_dump(mode="json")

    @_tool_errors
    async def get_research(self, ctx: Context, job_id: str, wait_secs: int) -> dict:
        caller = await self.caller(ctx)
        jobs = self.jobs()
        job = await jobs.get(caller.user.id, _job_id(job_id))
        if not job.is_terminal:
            async with self.waiting(caller, wait_secs):
                job = await jobs.wait_until_terminal(job, min(max(wait_secs, 0), MAX_WAIT_SECS))
        return result_of(job).model_dump(mode="json")

    def waiting(self, caller: Caller, wait_secs: int) -> AbstractAsyncContextManager:
        """A tool call that waits holds one of the user's stream slots, like a `?wait=` poll."""
        if wait_secs <= 0:
            return nullcontext()
        return stream_slots_of(self.app.state).hold(caller.user.id)

    @_tool_errors
    async def list_research(self, ctx: Context, limit: int, status: str | None) -> list[dict]:
        caller = await self.caller(ctx)
        rows = await self.jobs().list(
            caller.user.id, status=status, limit=min(max(limit, 1), MAX_LIMIT), offset=0
        )
        return [{"id": str(r.id), "status": r.status, "mode": r.mode, "question": r.question} for r in rows]

    @_tool_errors
    async def cancel_research(self, ctx: Context, job_id: str) -> dict:
        caller = await self.caller(ctx)
        return result_of(await self.jobs().cancel(caller.user.id, _job_id(job_id))).model_dump(mode="json")


def _job_id(value: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise InvalidRequest("job_id: not a research job id", field="job_id") from None


def build_server(app: FastAPI) -> MCPServer:
    tools = Tools(app)
    server = MCPServer(name="infrence", instructions=INSTRUCTIONS, version="0.1.0")

    @server.tool(
        description="Research a question; answers within `wait_secs` or returns the running job. "
        "`source_policy` limits hosts and dates; `output_language` is a BCP 47 tag; `previous_job_id` "
        "follows up an earlier finished job, starting from its sources."
    )
    async def research(
        question: str,
        ctx: Context,
        mode: ResearchMode = ResearchMode.lite,
        response_schema: dict | None = None,
        collections: list[str] | None = None,
        wait_secs: int = 60,
        source_policy: SourcePolicy | None = None,
        output_language: str | None = None,
        previous_job_id: str | None = None,
    ) -> dict:
        return await tools.research(
            ctx,
            wait_secs,
            question=question,
            mode=mode,
            response_schema=response_schema,
            collections=collections,
            source_policy=source_policy,
            output_language=output_language,
            previous_job_id=previous_job_id,
        )

    @server.tool(description="A research job's status and result, optionally waiting for it to end.")
    async def get_research(job_id: str, ctx: Context, wait_secs: int = 0) -> dict:
        return await tools.get_research(ctx, job_id, wait_secs)

    @server.tool(description="Your most recent research jobs.")
    async def list_research(ctx: Context, limit: int = 20, status: JobStatus | None = None) -> list[dict]:
        return await tools.list_research(ctx, limit, status)

    @server.tool(description="Cancel a research job; you pay only for what it used.")
    async def cancel_research(job_id: str, ctx: Context) -> dict:
        return await tools.cancel_research(ctx, job_id)

    return server


class McpEndpoint:
    """ASGI endpoint: refuse requests without a valid API key, hand the rest to the SDK."""

    def __init__(self, app: FastAPI):
        self.app = app
        self.server = build_server(app)
        # Builds the SDK's session manager (its own Starlette app is not used: we route here).
        # API keys, not cookies, authenticate here, so DNS rebinding gains an attacker nothing.
        self.server.streamable_http_app(
            json_response=True,
            stateless_http=True,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        self.sessions: StreamableHTTPSessionManager = self.server.session_manager

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
        try:
            token = _bearer(headers)
            if token is None:
                raise Unauthorized("Missing API key: send Authorization: Bearer ifr_…")
            state = self.app.state
            await ApiKeyService(state.db, state.redis).authenticate(token)
        except DomainError as exc:
            await error_json(exc.status_code, exc.detail, exc.code, exc.headers)(scope, receive, send)
            return
        await self.sessions.handle_request(scope, receive, send)


def mount_mcp(app: FastAPI) -> None:
    """Serve `/mcp` and run the SDK's session manager for the app's lifetime."""
    endpoint = McpEndpoint(app)
    app.router.add_route("/mcp", endpoint, methods=["GET", "POST", "DELETE"], include_in_schema=False)

    async def start(_: FastAPI):
        # The SDK's task group must be entered and left by one task: give it its own.
        ready, stopping = asyncio.Event(), asyncio.Event()

        async def run() -> None:
            async with endpoint.sessions.run():
                ready.set()
                await stopping.wait()

        runner = asyncio.create_task(run(), name="mcp-sessions")
        started = asyncio.create_task(ready.wait())
        await asyncio.wait([runner, started], return_when=asyncio.FIRST_COMPLETED)
        if runner.done():  # it failed to start: say why instead of waiting forever
            started.cancel()
            runner.result()

        async def stop() -> None:
            stopping.set()
            await runner

        return stop

    app.state.background_services.append(start)
