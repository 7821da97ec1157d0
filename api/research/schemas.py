"""Pydantic models of the research contract (ResearchRequest, ResearchResult, AsyncAccepted, ...)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema


class ResearchMode(str, Enum):
    lite = "lite"
    standard = "standard"
    pro = "pro"
    max = "max"


JobStatus = Literal["queued", "running", "succeeded", "failed", "canceled"]
TERMINAL_STATUSES = ("succeeded", "failed", "canceled")
MAX_QUESTION_CHARS = 4000

# `response_schema` is an object in the contract; an explicit null is accepted as "none".
OptionalObject = Annotated[dict[str, Any] | None, WithJsonSchema({"type": "object"})]


class ResearchRequest(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    mode: ResearchMode = Field(
        ResearchMode.standard, description="`lite` (15c) | `standard` (60c) | `pro` (200c) | `max` (metered)."
    )
    max_credits: int | None = Field(None, ge=0, description="Hard credit cap. Required for `max` mode.")
    max_wallclock_secs: int | None = Field(None, ge=0, description="Override the mode's wall-clock cap.")
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
        "`collections` are given and no web search provider is configured.",
    )

    def stored(self) -> dict[str, Any]:
        """The request as the client sent it (by alias), for the job row."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


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


class ResearchResult(BaseModel):
    id: UUID
    status: str
    question: str
    mode: str | None = None
    brief: str | None = None
    typed: dict[str, Any]
    basis: list[dict[str, Any]] = Field(default_factory=list)
    sources: list[SourceDto]
    credits_charged: int
    cost_usd: float
    stop_reason: str | None = Field(
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


class AsyncAccepted(BaseModel):
    id: UUID
    status: str
    status_url: str
    events_url: str


class ResearchLogRow(BaseModel):
    id: UUID
    created_at: datetime
    status: str
    question: str
    credits_charged: int
    cost_usd_micros: int
    latency_ms: int | None = None
    source_count: int | None = None
    wave_count: int | None = None
    completed_at: datetime | None = None
