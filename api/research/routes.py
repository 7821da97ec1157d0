"""HTTP for research jobs: `/v1/research` (API key) and the dashboard playground (JWT)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from api.research.events import EventHub, JobEvent, SubscriberTooSlow, process_hub
from api.research.repository import JobRow
from api.research.schemas import (
    AsyncAccepted,
    CorpusDocument,
    ExtendRequest,
    JobStatus,
    ModeInfo,
    PlanApproval,
    ResearchLogRow,
    ResearchRequest,
    ResearchResult,
)
from api.research.service import MAX_WAIT_SECS, JobService, corpus_document, result_event_data, result_of
from auth.deps import ApiKeyCaller, CurrentUser, PlaygroundUser, per_user_limit
from core.deps import SettingsDep
from core.errors import error_responses
from core.pagination import PageDep
from core.ratelimit import RateLimiterDep
from core.stream_slots import Slot, StreamSlots, StreamSlotsDep
from graph.modes import MODES

HEARTBEAT_SECS = 15.0
IDLE_CHECK_SECS = 5.0  # how often an idle stream double-checks the job row

MODE_INFOS = [ModeInfo.of(mode) for mode in MODES.values()]
router = APIRouter(tags=["research"])
playground = APIRouter(prefix="/api/playground", tags=["playground"])
dashboard_corpus = APIRouter(prefix="/api/corpus", tags=["corpus"])
CorpusPath = Annotated[
    str, Path(description="The document's path in the corpus: a `corpus://` id without its scheme")
]


async def process_event_hub(request: Request) -> EventHub:
    """One hub per process, made on first use: every stream and waiter shares its one reader."""
    return process_hub(request.app.state, request.app.state.redis)


EventHubDep = Annotated[EventHub, Depends(process_event_hub)]


async def get_job_service(request: Request) -> JobService:
    """Read from the app's state in one dependency: FastAPI's solving costs per dependency, and
    every job route (the API's hottest) solved five for its service."""
    state = request.app.state
    return JobService(state.db, state.redis, state.settings, await process_event_hub(request))


JobServiceDep = Annotated[JobService, Depends(get_job_service)]
IdempotencyKeyHeader = Annotated[str | None, Header(alias="Idempotency-Key")]
LastEventIdHeader = Annotated[str | None, Header(alias="Last-Event-ID")]
WaitQuery = Annotated[int | None, Query(ge=0, le=MAX_WAIT_SECS, description="Long-poll up to N seconds.")]
ResearchJobId = Annotated[UUID, Path(description="Research job id")]

CREATE_RESPONSES = {
    202: {"model": AsyncAccepted, "description": "Async accepted"},
    **error_responses(400, 401, 402, 403, 409, 429),
}
EXTEND_RESPONSES = {
    202: {"model": ResearchResult, "description": "Extended: the job is queued again under its new budget"},
    **error_responses(400, 401, 402, 404, 409),
}
PLAN_RESPONSES = {
    202: {"model": ResearchResult, "description": "Approved: the job is queued again with these queries"},
    **error_responses(400, 401, 404, 409),
}
EVENTS_RESPONSES = {
    200: {
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
        "description": "Server-sent events: id = stream id, event = type, data = JSON",
    },
    **error_responses(401, 404, 429),
}


def accepted(request: Request, job: JobRow, base: str) -> JSONResponse:
    root = str(request.base_url).rstrip("/")
    body = AsyncAccepted(
        id=job.id,
        status=job.status,
        status_url=f"{root}{base}/{job.id}",
        events_url=f"{root}{base}/{job.id}/events",
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=202)


async def _answer_create(http: Request, jobs: JobService, job: JobRow, base: str):
    if job.runs_async:
        return accepted(http, job, base)
    job = await jobs.wait_for_sync_result(job)
    if not job.is_terminal:
        return accepted(http, job, base)
    return result_of(job)


async def _read_with_wait(
    jobs: JobService, slots: StreamSlots, user_id: UUID, job_id: UUID, wait: int | None
) -> ResearchResult:
    """A long-poll holds one of the user's stream slots while it waits."""
    job = await jobs.get(user_id, job_id)
    if wait and not job.is_terminal:
        async with slots.hold(user_id):
            job = await jobs.wait_until_terminal(job, wait)
    return result_of(job)


async def event_stream(
    jobs: JobService, hub: EventHub, slots: StreamSlots, job: JobRow, last_event_id: str | None
) -> StreamingResponse:
    """An SSE response holding one of the user's stream slots (429 when none is free)."""
    slot = await slots.acquire(job.user_id)
    return StreamingResponse(
        _sse(jobs, hub, job, last_event_id or "0-0", slot),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _sse(jobs: JobService, hub: EventHub, job: JobRow, after: str, slot: Slot) -> AsyncIterator[str]:
    """Follow the job's stream from `after`; heartbeats while idle; end with the terminal event —
    rebuilt from the database when the stream expired or lost it. The slot goes back at the end."""
    try:
        yield "retry: 2000\n\n"
        last_sent = time.monotonic()
        async with hub.subscribe(job.id, after) as subscription:
            while True:
                await slot.renew_if_due()
                try:
                    event = await subscription.next(timeout=0 if job.is_terminal else IDLE_CHECK_SECS)
                except SubscriberTooSlow:
                    return  # the client reconnects with Last-Event-ID and replays from the stream
                except Exception:  # Redis away: keep the client, watch the database
                    event = None
                if event is not None:
                    burst = [event]
                    while not burst[-1].is_terminal and (more := subscription.ready()):
                        burst.extend(more)
                    ending = next((i for i, e in enumerate(burst) if e.is_terminal), None)
                    burst = burst if ending is None else burst[: ending + 1]
                    yield "".join(e.sse for e in burst)
                    last_sent = time.monotonic()
                    if ending is not None:
                        return
                    continue
                job = await jobs.get(job.user_id, job.id)
                if job.is_terminal and subscription.drained:
                    millis, seq = subscription.last
                    yield JobEvent(f"{millis}-{seq + 1}", f"job.{job.status}", result_event_data(job)).sse
                    return
                if time.monotonic() - last_sent >= HEARTBEAT_SECS:
                    yield ": heartbeat\n\n"
                    last_sent = time.monotonic()
    finally:
        await slot.release()


# --- /v1/modes (public) ----------------------------------------------------------------------


@router.get(
    "/v1/modes",
    response_model=list[ModeInfo],
    summary="Research modes: price and budgets",
    operation_id="list_modes",
)
async def list_modes() -> list[ModeInfo]:
    """Public (no key): the price table `POST /v1/research` charges by, one entry per mode."""
    return MODE_INFOS


# --- /v1/research (API key) -------------------------------------------------------------------


@router.post(
    "/v1/research",
    response_model=ResearchResult,
    responses=CREATE_RESPONSES,
    summary="Run a deep research job",
    operation_id="run_research",
)
async def run_research(
    body: ResearchRequest,
    caller: ApiKeyCaller,
    jobs: JobServiceDep,
    http: Request,
    response: Response,
    limits: RateLimiterDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKeyHeader = None,
):
    quota = limits.quota(f"research:key:{caller.api_key_id}", settings.research_creates_per_minute, 60)
    job = await jobs.submit(
        caller.user.id,
        body,
        origin="api",
        api_key_id=caller.api_key_id,
        idempotency_key=idempotency_key,
        quota=quota,
    )
    limit = quota.state
    answer = await _answer_create(http, jobs, job, "/v1/research")
    if isinstance(answer, Response):
        limit.apply(answer)
        return answer
    limit.apply(response)
    return answer


@router.get(
    "/v1/research",
    response_model=list[ResearchLogRow],
    responses=error_responses(400, 401),
    operation_id="list_jobs",
)
async def list_jobs(
    caller: ApiKeyCaller,
    jobs: JobServiceDep,
    page: PageDep,
    status: JobStatus | None = None,
) -> list[ResearchLogRow]:
    rows = await jobs.list(caller.user.id, status=status, limit=page.limit, offset=page.offset)
    return [ResearchLogRow.model_validate(row, from_attributes=True) for row in rows]


@router.get(
    "/v1/research/{id}",
    response_model=ResearchResult,
    responses=error_responses(401, 404, 429),
    operation_id="get_status",
)
async def get_status(
    id: ResearchJobId,
    caller: ApiKeyCaller,
    jobs: JobServiceDep,
    slots: StreamSlotsDep,
    wait: WaitQuery = None,
) -> ResearchResult:
    return await _read_with_wait(jobs, slots, caller.user.id, id, wait)


@router.delete(
    "/v1/research/{id}",
    response_model=ResearchResult,
    responses=error_responses(401, 404),
    operation_id="cancel",
)
async def cancel(id: ResearchJobId, caller: ApiKeyCaller, jobs: JobServiceDep) -> ResearchResult:
    return result_of(await jobs.cancel(caller.user.id, id))


@router.post(
    "/v1/research/{id}/extend",
    status_code=202,
    response_model=ResearchResult,
    responses=EXTEND_RESPONSES,
    summary="Continue a finished job with a larger budget",
    operation_id="extend_research",
)
async def extend_research(
    id: ResearchJobId,
    body: ExtendRequest,
    caller: ApiKeyCaller,
    jobs: JobServiceDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> ResearchResult:
    """A job that succeeded (stopped `complete`, `budget` or `deadline`) resumes from its last
    checkpoint with more waves and a rewritten brief, under the same id; its events continue
    after the last one. Charged only the new price less what it was already charged."""
    return result_of(await jobs.extend(caller.user.id, id, body, idempotency_key=idempotency_key))


@router.post(
    "/v1/research/{id}/plan",
    status_code=202,
    response_model=ResearchResult,
    responses=PLAN_RESPONSES,
    summary="Approve (or edit) the plan of a job awaiting approval",
    operation_id="approve_plan",
)
async def approve_plan(
    id: ResearchJobId, body: PlanApproval, caller: ApiKeyCaller, jobs: JobServiceDep
) -> ResearchResult:
    """For a job created with `plan_approval: true` and now `awaiting_approval`: these queries
    (the plan's, edited or as they are) are the first wave's; the job resumes on its thread."""
    return result_of(await jobs.approve_plan(caller.user.id, id, body))


@router.get(
    "/v1/research/{id}/events",
    responses=EVENTS_RESPONSES,
    response_class=StreamingResponse,
    operation_id="research_events",
)
async def research_events(
    id: ResearchJobId,
    caller: ApiKeyCaller,
    jobs: JobServiceDep,
    hub: EventHubDep,
    slots: StreamSlotsDep,
    last_event_id: LastEventIdHeader = None,
) -> StreamingResponse:
    return await event_stream(jobs, hub, slots, await jobs.get(caller.user.id, id), last_event_id)


# --- /api/playground/research (dashboard, JWT) --------------------------------------------------


@playground.post(
    "/research",
    response_model=ResearchResult,
    responses=CREATE_RESPONSES,
    operation_id="run",
    dependencies=[per_user_limit("playground-research", lambda s: s.research_creates_per_minute, 60)],
)
async def run(
    body: ResearchRequest,
    user: CurrentUser,
    jobs: JobServiceDep,
    http: Request,
    idempotency_key: IdempotencyKeyHeader = None,
):
    job = await jobs.submit(user.id, body, origin="playground", idempotency_key=idempotency_key)
    return await _answer_create(http, jobs, job, "/api/playground/research")


@playground.get(
    "/research/{id}",
    response_model=ResearchResult,
    responses=error_responses(401, 404, 429),
    operation_id="get_status",
)
async def playground_status(
    id: ResearchJobId, user: CurrentUser, jobs: JobServiceDep, slots: StreamSlotsDep, wait: WaitQuery = None
) -> ResearchResult:
    return await _read_with_wait(jobs, slots, user.id, id, wait)


@playground.delete(
    "/research/{id}",
    response_model=ResearchResult,
    responses=error_responses(401, 404),
    operation_id="playground_cancel",
)
async def playground_cancel(id: ResearchJobId, user: CurrentUser, jobs: JobServiceDep) -> ResearchResult:
    return result_of(await jobs.cancel(user.id, id))


@playground.post(
    "/research/{id}/extend",
    status_code=202,
    response_model=ResearchResult,
    responses=EXTEND_RESPONSES,
    operation_id="playground_extend",
)
async def playground_extend(
    id: ResearchJobId,
    body: ExtendRequest,
    user: CurrentUser,
    jobs: JobServiceDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> ResearchResult:
    return result_of(await jobs.extend(user.id, id, body, idempotency_key=idempotency_key))


@playground.post(
    "/research/{id}/plan",
    status_code=202,
    response_model=ResearchResult,
    responses=PLAN_RESPONSES,
    operation_id="playground_approve_plan",
)
async def playground_approve_plan(
    id: ResearchJobId, body: PlanApproval, user: CurrentUser, jobs: JobServiceDep
) -> ResearchResult:
    return result_of(await jobs.approve_plan(user.id, id, body))


@playground.get(
    "/research/{id}/events",
    responses=EVENTS_RESPONSES,
    response_class=StreamingResponse,
    operation_id="playground_events",
)
async def playground_events(
    id: ResearchJobId,
    user: PlaygroundUser,
    jobs: JobServiceDep,
    hub: EventHubDep,
    slots: StreamSlotsDep,
    last_event_id: LastEventIdHeader = None,
) -> StreamingResponse:
    return await event_stream(jobs, hub, slots, await jobs.get(user.id, id), last_event_id)


# --- the local corpus behind corpus:// citations ------------------------------------------------


@router.get(
    "/v1/corpus/{path:path}",
    response_model=CorpusDocument,
    responses=error_responses(401, 404),
    operation_id="get_corpus_document",
    tags=["corpus"],
)
async def get_corpus_document(
    path: CorpusPath, caller: ApiKeyCaller, settings: SettingsDep
) -> CorpusDocument:
    return await corpus_document(settings, path)


@dashboard_corpus.get(
    "/{path:path}",
    response_model=CorpusDocument,
    responses=error_responses(401, 404),
    operation_id="dashboard_corpus_document",
)
async def dashboard_corpus_document(
    path: CorpusPath, user: CurrentUser, settings: SettingsDep
) -> CorpusDocument:
    return await corpus_document(settings, path)
