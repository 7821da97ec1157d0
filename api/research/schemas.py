"""Pydantic models of the research contract (ResearchRequest, ResearchResult, AsyncAccepted, ...)."""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, Union
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, WithJsonSchema, create_model

from graph.budget import StopReason
from graph.events import EVENT_DATA
from graph.language import MAX_TAG_CHARS
from graph.modes import Mode, ResearchMode
from graph.policy import MAX_DOMAINS


# A new state is one more member here and in the `research_jobs` CHECK
# constraint; the dashboard and clients read the list from the OpenAPI enum.
class JobStatus(StrEnum):
    """A research job's status; `succeeded`, `failed` and `canceled` are final."""

    queued = "queued"
    running = "running"
    awaiting_approval = "awaiting_approval"
    succeeded = "succeeded"
    failed = "failed"
    canceled = "canceled"


TERMINAL_STATUSES = (JobStatus.succeeded, JobStatus.failed, JobStatus.canceled)
MAX_QUESTION_CHARS = 4000
MAX_CREDITS = 10**9  # credits are integers in bigint columns; no real job comes near this
MAX_WALLCLOCK_SECS = 86_400

# `response_schema` is an object in the contract; an explicit null is accepted as "none".
OptionalObject = Annotated[dict[str, Any] | None, WithJsonSchema({"type": "object"})]


REDACTED = "[redacted]"


class McpServerSpec(BaseModel):
    """A remote MCP server (Streamable HTTP) whose query tools research searches beside the web."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2048, description="Its Streamable HTTP endpoint, e.g. `https://host/mcp`.")
    headers: dict[str, Annotated[str, Field(max_length=4096)]] | None = Field(
        None,
        max_length=20,
        description="Sent to that server only (e.g. `Authorization`); kept encrypted while the job runs, "
        "erased when it ends, never logged or returned.",
    )
    allowed_tools: list[Annotated[str, Field(max_length=128)]] | None = Field(
        None, max_length=50, description="Only these tools; default: every tool that takes a text query."
    )


class SourcePolicy(BaseModel):
    """Which sources a job may use. Sent to the search provider where it supports it, and enforced
    on every result and every page read (redirects included) whatever the provider returns."""

    model_config = ConfigDict(extra="forbid")

    include_domains: list[str] = Field(
        default_factory=list,
        max_length=MAX_DOMAINS,
        description="Only these hosts and their subdomains (`example.com` covers `docs.example.com`).",
    )
    exclude_domains: list[str] = Field(
        default_factory=list, max_length=MAX_DOMAINS, description="Never these hosts nor their subdomains."
    )
    after_date: date | None = Field(
        None,
        description="Only sources published on or after this date (YYYY-MM-DD), where their date is known.",
    )
    before_date: date | None = Field(
        None,
        description="Only sources published on or before this date (YYYY-MM-DD), where their date is known.",
    )


class ResearchRequest(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    mode: ResearchMode = Field(
        ResearchMode.standard, description="Budgets and price of each mode: `GET /v1/modes`."
    )
    max_credits: int | None = Field(
        None, ge=0, le=MAX_CREDITS, description="Hard credit cap. Required for `max` mode."
    )
    max_wallclock_secs: int | None = Field(
        None, ge=0, le=MAX_WALLCLOCK_SECS, description="Override the mode's wall-clock cap."
    )
    response_schema: OptionalObject = Field(None, description="Optional JSON Schema for the typed result.")
    webhook_url: str | None = Field(None, max_length=2048, description="POSTed the final result, signed.")
    run_async: bool = Field(False, alias="async", description="Force async mode regardless of budget.")
    include_sources: bool = Field(True, description="Include per-source `summary` fields.")
    collections: list[UUID] | None = Field(
        None,
        max_length=20,
        description="Your collections to search (ids from `/v1/collections`); cited as `collection://…`.",
    )
    web: bool | None = Field(
        None,
        description="Search the web (or the server's corpus) too. Default: true, or false when "
        "`collections` or `mcp_servers` are given and no web search provider is configured.",
    )
    mcp_servers: list[McpServerSpec] | None = Field(
        None,
        max_length=5,
        description="Your own MCP servers: each tool taking a text query is searched too, its results "
        "cited as `mcp://<host>/<tool>/…`. A connector's failure is recorded in `errors`, never fatal.",
    )
    source_policy: SourcePolicy | None = Field(
        None,
        description="Hosts and publication dates sources must fit; other sources are never read or cited.",
    )
    output_language: str | None = Field(
        None,
        max_length=MAX_TAG_CHARS,
        description="BCP 47 tag (`de`, `pt-BR`) the brief and typed string values are written in. The "
        "offline reasoner answers in its sources' language and says so in `usage.output_language_note`.",
    )
    previous_job_id: UUID | None = Field(
        None,
        description="A follow-up to this earlier, finished job of yours: starts from its question, claims and "
        "sources (cited without being read again), researches only what the new question adds, and is "
        "charged this request's own price. 404 if not yours, 409 while it is still running.",
    )
    plan_approval: bool = Field(
        False,
        description="Stop after planning with status `awaiting_approval` until `POST /v1/research/{id}/plan` "
        "approves the queries (answered 202).",
    )

    def stored(self) -> dict[str, Any]:
        """The request as the client sent it (by alias), for the job row, connector header values
        redacted: they travel sealed beside it (`core.secret_box`) and only while the job runs."""
        stored = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        for server in stored.get("mcp_servers") or ():
            if "headers" in server:
                server["headers"] = dict.fromkeys(server["headers"], REDACTED)
        return stored

    def connector_headers(self) -> list[dict[str, str]] | None:
        """Each connector's headers in `mcp_servers` order, or None when no connector has any."""
        headers = [server.headers or {} for server in self.mcp_servers or ()]
        return headers if any(headers) else None


class ExtendRequest(BaseModel):
    """More budget for a finished job: a larger credit cap (metered, as mode `max`) or a dearer mode."""

    model_config = ConfigDict(extra="forbid")

    max_credits: int | None = Field(
        None,
        ge=0,
        le=MAX_CREDITS,
        description="The job's new credit cap in total (what it was charged included); runs metered, as mode `max`.",
    )
    mode: ResearchMode | None = Field(
        None, description="A dearer mode to continue in (its price, in total); `max` needs `max_credits`."
    )

    def stored(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


MAX_PLAN_QUERY_CHARS = 400


class PlanApproval(BaseModel):
    """The queries the first wave searches: the plan's as they are, or edited."""

    model_config = ConfigDict(extra="forbid")

    queries: list[Annotated[str, Field(min_length=1, max_length=MAX_PLAN_QUERY_CHARS)]] = Field(
        min_length=1, description="At most the mode's branches per wave (`GET /v1/modes`)."
    )


class ResearchPlan(BaseModel):
    """What a job with `plan_approval` proposes to research, for the client to approve or edit."""

    sub_questions: list[str] = Field(default_factory=list)
    queries: list[str]
    approved: bool = False
    expires_at: datetime | None = Field(
        None, description="While `awaiting_approval`: when the job is canceled if nobody approves it."
    )


class ExtensionDto(BaseModel):
    """One extension of a job: when it was asked for and the credits it added (reserved while it runs)."""

    at: datetime
    credits: int
    mode: ResearchMode
    max_credits: int | None = None


class ResearchBudgets(BaseModel):
    """The envelope of one run: what the gate lets it spend, and what it keeps for writing."""

    max_cost_usd: float = Field(description="Provider cost cap; for `max`, sized from `max_credits`.")
    max_wallclock_secs: int = Field(ge=0)
    max_waves: int = Field(ge=0)
    branches: int = Field(ge=0, description="Parallel searches per wave.")
    max_searches: int = Field(ge=0)
    max_pages: int = Field(ge=0)
    synthesis_time_reserve_secs: int = Field(ge=0)
    synthesis_cost_reserve_usd: float


class ModeInfo(BaseModel):
    """One mode of `GET /v1/modes`, from the price table the API charges by."""

    mode: ResearchMode
    price_credits: int | None = Field(description="Fixed price per run; null when metered.")
    metered: bool
    price_note: str
    budgets: ResearchBudgets

    @classmethod
    def of(cls, mode: Mode) -> ModeInfo:
        return cls(
            mode=mode.name,
            price_credits=mode.price_credits,
            metered=mode.metered,
            price_note=mode.price_note,
            budgets=ResearchBudgets(**mode.budgets.as_dict()),
        )


class SourceDto(BaseModel):
    url: str
    title: str
    domain: str
    summary: str | None = None


class UsageDto(BaseModel):
    searches: int = 0
    pages: int = 0
    tokens: int = 0
    reasoner: str | None = Field(
        None, description="Who planned, read and wrote: `offline` (extractive, no model) or `openai`."
    )
    output_language: str | None = Field(
        None, description="The requested `output_language` the brief and typed values were written in."
    )
    output_language_note: str | None = Field(
        None, description="Why the requested `output_language` was not applied (the offline reasoner)."
    )


class FaithfulnessDto(BaseModel):
    """How the brief's sentences fared against the quotes they cite."""

    sentences: int = Field(0, description="Statements in the brief as written, before the check.")
    supported: int = Field(0, description="Statements their cited quotes support (kept).")
    removed: int = Field(0, description="Statements no cited quote supports (removed from the brief).")


class StageError(BaseModel):
    stage: str
    error: str


class CorpusDocument(BaseModel):
    """A local corpus document as the research pipeline stored and quoted it."""

    url: str = Field(description="Its stable id, `corpus://<path>`, as cited in results.")
    title: str
    text: str = Field(description="The stored text; every quote cited from it is an exact slice.")


class BasisCitation(BaseModel):
    url: str
    title: str
    quote: str


class BasisEntry(BaseModel):
    """The evidence behind one leaf of `typed`: its path (`key_findings[0].claim`), the quotes
    supporting it, and how strongly they do."""

    field: str
    citations: list[BasisCitation] = Field(default_factory=list)
    confidence: Literal["low", "medium", "high"]


class ResearchResult(BaseModel):
    id: UUID
    status: JobStatus
    question: str
    mode: ResearchMode | None = None
    previous_job_id: UUID | None = Field(None, description="The earlier job this one follows up, if any.")
    brief: str | None = None
    typed: dict[str, Any]
    basis: list[BasisEntry] = Field(default_factory=list)
    sources: list[SourceDto]
    credits_charged: int
    cost_usd: float
    stop_reason: StopReason | None = Field(
        None,
        description="complete | budget | deadline | canceled | no_evidence (nothing relevant was found: "
        "the brief says so, cites nothing, and only metered provider spend is charged).",
    )
    wave_count: int | None = Field(None, ge=0)
    usage: UsageDto = Field(default_factory=UsageDto)
    faithfulness: FaithfulnessDto | None = None
    latency_ms: int | None = None
    error: str | None = None
    error_code: str | None = Field(
        None, description="Why a failed job failed, e.g. `provider_unavailable` (nothing is charged)."
    )
    errors: list[StageError] = Field(
        default_factory=list, description="Problems met on the way, per stage (search, read, extract, ...)."
    )
    created_at: datetime
    completed_at: datetime | None = None
    extensions: list[ExtensionDto] = Field(
        default_factory=list,
        description="Each `POST /v1/research/{id}/extend`, in order; `credits_charged` includes them.",
    )
    plan: ResearchPlan | None = Field(None, description="With `plan_approval`: the plan, once made.")


class AsyncAccepted(BaseModel):
    id: UUID
    status: JobStatus
    status_url: str
    events_url: str


class ResearchLogRow(BaseModel):
    id: UUID
    created_at: datetime
    status: JobStatus
    question: str
    credits_charged: int
    cost_usd_micros: int
    latency_ms: int | None = None
    source_count: int | None = None
    wave_count: int | None = None
    completed_at: datetime | None = None


# --- server-sent events --------------------------------------------------------------------------


class JobQueuedData(BaseModel):
    id: UUID
    mode: ResearchMode
    credits_reserved: int


class JobStartedData(BaseModel):
    id: UUID
    attempt: int
    worker: str


class JobCancelRequestedData(BaseModel):
    id: UUID


class PlanReadyData(BaseModel):
    id: UUID
    plan: ResearchPlan


class PlanApprovedData(BaseModel):
    id: UUID
    queries: list[str]


class JobExtendedData(BaseModel):
    id: UUID
    extension: int = Field(description="1 for the first extension of this job, and so on.")
    mode: ResearchMode
    credits_reserved: int = Field(description="Credits reserved for this extension.")


# The worker's events; the final one carries the job's result. The graph's events are in
# `graph.events.EVENT_DATA`.
JOB_EVENT_DATA: dict[str, type[BaseModel]] = {
    "job.queued": JobQueuedData,
    "job.started": JobStartedData,
    "job.cancel_requested": JobCancelRequestedData,
    "job.extended": JobExtendedData,
    "plan.ready": PlanReadyData,
    "plan.approved": PlanApprovedData,
    **{f"job.{status}": ResearchResult for status in TERMINAL_STATUSES},
}
TERMINAL_EVENT_TYPES = tuple(f"job.{status}" for status in TERMINAL_STATUSES)


def _event_model(event_type: str, data: type[BaseModel]) -> type[BaseModel]:
    name = "".join(part.capitalize() for part in re.split(r"[._]", event_type)) + "Event"
    return create_model(name, type=(Literal[event_type], ...), data=(data, ...))


EVENT_TYPES: dict[str, type[BaseModel]] = {**JOB_EVENT_DATA, **EVENT_DATA}
# Every SSE event as `{type, data}`, discriminated by type: what clients may rely on.
ResearchEvent = TypeAdapter(
    Annotated[
        Union[tuple(_event_model(event_type, data) for event_type, data in EVENT_TYPES.items())],  # noqa: UP007
        Field(discriminator="type"),
    ]
)


def event_schemas() -> dict[str, Any]:
    """OpenAPI components for the SSE stream: one `{type, data}` schema per event type, their
    discriminated union `ResearchEvent`, `ResearchEventType` (every type, as an enum) and
    `TerminalJobStatus` (the statuses whose `job.<status>` event ends a stream)."""
    schema = ResearchEvent.json_schema(ref_template="#/components/schemas/{model}")
    return {
        **schema.pop("$defs"),
        "ResearchEvent": schema,
        "ResearchEventType": {"type": "string", "enum": list(EVENT_TYPES)},
        "TerminalJobStatus": {"type": "string", "enum": [status.value for status in TERMINAL_STATUSES]},
    }
