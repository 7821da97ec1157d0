"""The one place the API runs the research graph: checkpointed in PostgreSQL, thread id = job id,
context rebuilt on every (re)start since LangGraph does not checkpoint it."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any
from uuid import UUID

from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.runtime import RunControl
from langgraph.types import Command

from api.collections.embeddings import embedder_for
from api.collections.search import CollectionSearch
from api.research.checkpointer import JobCheckpointer
from api.research.repository import JobRepository, JobRow
from api.research.service import JobOutcome, plan_of_job, source_policy_of
from core.db import Database
from core.secret_box import UnreadableSecret, secret_box
from core.settings import Settings
from graph.budget import add_spend
from graph.builder import RECURSION_LIMIT, build_graph
from graph.context import build_context, build_reasoner, default_search, page_store
from graph.extend import extend_thread
from graph.policy import SourcePolicy
from graph.providers.mcp import McpSearch, McpServer
from graph.providers.pages import PageStore
from graph.providers.reasoning import ProviderUnavailable, Reasoner, TypedOutputError
from graph.providers.search import MergedSearch, SearchProvider
from graph.result import result_fragment
from graph.state import Claim, SourceMeta, claim_id, live_claims

log = logging.getLogger(__name__)

SAVER_SETUP_LOCK = 0x1F2E3D4D
HARD_DEADLINE_GRACE_SECS = 30
PRUNE_BATCH = 200

EventSink = Callable[[str, dict[str, Any]], Awaitable[None]]


@functools.cache
def _compiled_graph():
    return build_graph()


def _config(job: JobRow) -> dict[str, Any]:
    budgets = plan_of_job(job).budgets
    return {
        "configurable": {"thread_id": str(job.id)},
        "recursion_limit": RECURSION_LIMIT,
        "max_concurrency": max(2, budgets.branches),
    }


def outcome_from(state: dict[str, Any], *, status: str, stop_reason: str | None = None) -> JobOutcome:
    fragment = result_fragment(state, stop_reason=stop_reason)
    return JobOutcome(
        status=status,
        stop_reason=fragment["stop_reason"],
        cost_usd_micros=round(fragment["cost_usd"] * 1_000_000),
        result=fragment,
        wave_count=fragment["wave_count"],
        source_count=len(fragment["sources"]),
    )


class GraphRunner:
    def __init__(self, db: Database, settings: Settings):
        self.db = db
        self.settings = settings
        self.jobs = JobRepository()

    @functools.cached_property
    def reasoner(self) -> Reasoner:
        """One for every job of this worker: its HTTP connections (and TLS sessions) and chat
        models are built once, not per job."""
        return build_reasoner(self.settings)

    @functools.cached_property
    def pages(self) -> PageStore:
        """One page store for every job of this worker: its SQLite file is opened once, not
        opened and closed (a WAL checkpoint) per job."""
        return page_store(self.settings)

    async def aclose(self) -> None:
        if "reasoner" in self.__dict__:
            await self.reasoner.aclose()
        if "pages" in self.__dict__:
            self.pages.close()

    async def setup(self) -> None:
        """Create the checkpointer's tables once, even with many workers starting together."""
        async with self.db.connection() as conn:
            await conn.execute("SELECT pg_advisory_lock(%s)", (SAVER_SETUP_LOCK,))
            try:
                await AsyncPostgresSaver(conn).setup()
            finally:
                await conn.execute("SELECT pg_advisory_unlock(%s)", (SAVER_SETUP_LOCK,))

    def _saver(self) -> JobCheckpointer:
        # A saver per run: each instance serialises its operations behind one lock.
        return JobCheckpointer(self.db.pool)

    def _graph(self):
        """The compiled graph with a fresh saver: compiled once per process, copied per run."""
        return _compiled_graph().copy({"checkpointer": self._saver()})

    async def run(self, job: JobRow, *, control: RunControl, on_event: EventSink) -> JobOutcome:
        """Run (or resume) the job's graph to the end and return its outcome."""
        plan = plan_of_job(job)
        graph = self._graph()
        config = _config(job)
        saved = await graph.aget_state(config)
        if job.extensions:
            await extend_thread(graph, config, extension=len(job.extensions), mode=job.mode)
        policy = source_policy_of(job.request)
        if saved.interrupts and job.plan and job.plan.get("approved"):
            graph_input = Command(resume={"queries": job.plan["queries"]})
        elif saved.created_at is not None:
            graph_input = None  # resume where the last attempt stopped
        else:
            graph_input = {
                "question": job.question,
                "mode": job.mode,
                "started_at": time.time(),
                "response_schema": job.request.get("response_schema"),
                "output_language": job.request.get("output_language"),
                **(await self._earlier_research(job, policy)),
                "plan_approval": bool(job.request.get("plan_approval")),
            }
        context = build_context(
            self.settings,
            plan.budgets,
            reasoner=self.reasoner,
            pages=self.pages,
            search=await self._search_for(job, policy),
            policy=policy,
        )
        try:
            await asyncio.wait_for(
                self._stream(graph, graph_input, config, context, control, on_event),
                plan.budgets.max_wallclock_secs + HARD_DEADLINE_GRACE_SECS,
            )
            stop_reason = None
        except TimeoutError:
            log.warning("job %s passed its hard deadline", job.id)
            stop_reason = "deadline"
        finally:
            await context.aclose()
        final = await graph.aget_state(config)
        if final.interrupts and stop_reason is None:  # paused for the client to approve the plan
            return JobOutcome(status="awaiting_approval", stop_reason=None, plan=final.interrupts[0].value)
        return outcome_from(final.values, status="succeeded", stop_reason=stop_reason)

    async def _search_for(self, job: JobRow, policy: SourcePolicy) -> SearchProvider | None:
        """The job's own sources — its owner's collections, its MCP connectors — with web search
        unless the client said not to or none is configured; None leaves the default provider
        (web or corpus)."""
        collections = [UUID(c) for c in job.request.get("collections") or ()]
        own: list[SearchProvider] = []
        if collections:
            own.append(CollectionSearch(self.db, job.user_id, collections, embedder_for(self.settings)))
        own.extend(await self._connectors(job))
        if not own:
            return None
        wants_web = job.request.get("web")
        if wants_web is False or (wants_web is None and not self.settings.tavily_api_key):
            return own[0] if len(own) == 1 else MergedSearch(own)
        return MergedSearch([default_search(self.settings, policy), *own])

    async def _connectors(self, job: JobRow) -> list[McpSearch]:
        """The job's MCP servers, with their headers unsealed (a job row keeps only their names)."""
        servers = job.request.get("mcp_servers") or []
        headers: list[dict[str, str]] = [{} for _ in servers]
        if servers:
            async with self.db.connection() as conn:
                sealed = await self.jobs.connector_headers(conn, job.id)
            if sealed is not None:
                try:
                    headers = json.loads(secret_box(self.settings).open(sealed))
                except UnreadableSecret:
                    log.warning("job %s: connector headers unreadable (key rotated?); sent without", job.id)
        return [
            McpSearch(
                McpServer(
                    url=server["url"],
                    headers=given,
                    allowed_tools=tuple(server["allowed_tools"]) if "allowed_tools" in server else None,
                ),
                allow_private=self.settings.allow_private_urls,
            )
            for server, given in zip(servers, headers, strict=True)
        ]

    async def _earlier_research(self, job: JobRow, policy: SourcePolicy) -> dict[str, Any]:
        """What a follow-up starts from: its earlier job's question and queries, and the claims
        still standing with their sources — from that job's checkpoint, or from its stored result
        once the checkpoint is pruned. Sources outside this job's policy are left behind; the rest
        come as wave 0, so they can be cited and are never read again."""
        previous_id = job.request.get("previous_job_id")
        if previous_id is None:
            return {}
        async with self.db.connection() as conn:
            previous = await self.jobs.get(conn, UUID(previous_id))
        if previous is None or previous.user_id != job.user_id:  # checked at submit; never trust it
            return {}
        state = (await self._graph().aget_state({"configurable": {"thread_id": previous_id}})).values or {}
        if state.get("claims"):
            claims, sources = live_claims(state), state.get("sources") or {}
            queries = [*(state.get("previous_queries") or ()), *(state.get("queries_done") or ())]
        else:
            claims, sources = claims_of_result(previous.result or {})
            queries = []
        kept = [c for c in claims if c["url"] in sources and policy.allows_url(c["url"])]
        return {
            "previous_question": previous.question,
            "previous_queries": list(dict.fromkeys(queries)),
            "claims": [{**c, "wave": 0} for c in kept],
            "sources": {c["url"]: {**sources[c["url"]], "wave": 0} for c in kept},
        }

    async def _stream(
        self, graph, graph_input, config, context, control: RunControl, on_event: EventSink
    ) -> None:
        async for chunk in graph.astream(
            graph_input, config, context=context, stream_mode="custom", durability="sync", control=control
        ):
            if isinstance(chunk, dict) and "type" in chunk:
                await on_event(chunk["type"], chunk.get("data") or {})

    async def failed_on_input(self, job: JobRow, exc: TypedOutputError) -> JobOutcome:
        """A run stopped by the client's schema: failed, with what it gathered and everything it
        spent (the failing cast's spend rides on the exception), to be charged as metered."""
        state = (await self._graph().aget_state(_config(job))).values or {"question": job.question}
        state = {**state, "spend": add_spend(state.get("spend"), exc.spend)}
        outcome = outcome_from(state, status="failed")
        return dataclasses.replace(outcome, stop_reason=None, error=str(exc)[:500], client_fault=True)

    async def partial_outcome(self, job: JobRow, *, status: str, stop_reason: str) -> JobOutcome:
        """What a stopped run had gathered by its last checkpoint (sources, claims, spend)."""
        state = (await self._graph().aget_state(_config(job))).values
        return outcome_from(state or {"question": job.question}, status=status, stop_reason=stop_reason)

    async def unavailable_outcome(self, job: JobRow, exc: ProviderUnavailable) -> JobOutcome:
        """A run stopped by a provider outage: failed (so nothing is charged), naming the provider
        and stage, with every stage's errors recorded on the way."""
        state = (await self._graph().aget_state(_config(job))).values or {}
        return JobOutcome(
            status="failed",
            stop_reason=None,
            error=str(exc),
            result={"error_code": exc.code, "errors": [*(state.get("errors") or []), exc.as_record()]},
        )

    async def prune_checkpoints(self, older_than: timedelta) -> int:
        async with self.db.connection() as conn:
            job_ids = await self.jobs.terminal_unpruned_before(conn, older_than, PRUNE_BATCH)
        if not job_ids:
            return 0
        saver = self._saver()
        for job_id in job_ids:
            await saver.adelete_thread(str(job_id))
        async with self.db.connection() as conn:
            await self.jobs.mark_pruned(conn, job_ids)
        return len(job_ids)


def claims_of_result(result: dict[str, Any]) -> tuple[list[Claim], dict[str, SourceMeta]]:
    """Claims and sources as a stored result keeps them: each quote of the basis, with its source."""
    sources: dict[str, SourceMeta] = {
        s["url"]: SourceMeta(
            url=s["url"],
            title=s.get("title", ""),
            domain=s.get("domain", ""),
            summary=s.get("summary") or "",
            wave=0,
            query="",
        )
        for s in result.get("sources") or ()
        if s.get("url")
    }
    claims: dict[str, Claim] = {}
    for entry in result.get("basis") or ():
        for citation in entry.get("citations") or ():
            url, quote = citation.get("url", ""), citation.get("quote", "")
            if url in sources and quote:
                key = claim_id(url, quote)
                claims[key] = Claim(id=key, url=url, query="", wave=0, text=quote, quote=quote)
    return list(claims.values()), sources
