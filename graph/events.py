"""Typed custom stream events (docs/design.md, "Events"); nodes emit them through LangGraph's stream writer.

Each event is `{"type": <a key of EVENT_DATA>, "data": {...}}`; with
`stream_mode=["custom", ...]` the worker receives these dicts as `("custom", event)` chunks.
`job.*` events belong to the worker, not to the graph. Clients must tolerate unknown types.
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from graph.budget import ResearchBudgets, Spend, StopReason, usd, zero_spend

PLAN = "plan"
WAVE_STARTED = "wave.started"
SEARCH = "search"
SOURCE = "source"
BRANCH_FAILED = "branch.failed"
WAVE_COMPLETED = "wave.completed"
GATE = "gate"
SYNTHESIS_STARTED = "synthesis.started"
CRITIC = "critic"
CAST = "cast"
PROGRESS = "progress"


# The data of each event type, declared once: the API publishes these as the OpenAPI
# `ResearchEvent` union the dashboard's client is generated from, and tests check emitted events
# against them. Extra keys are allowed, so adding one is not a breaking change.
class EventData(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class PlanData(EventData):
    queries: list[str]
    reasoner: str
    search: str
    budgets: dict[str, Any]


class WaveStartedData(EventData):
    wave: int
    queries: list[str]


class SearchData(EventData):
    wave: int
    query: str
    results: int
    provider: str
    off_policy: int = Field(0, description="Results dropped by the job's `source_policy` (never read).")


class SourceData(EventData):
    wave: int
    url: str
    title: str
    domain: str
    claims: int


class BranchFailedData(EventData):
    stage: str
    error: str
    wave: int | None = None
    query: str | None = None
    url: str | None = None
    at: float


class WaveCompletedData(EventData):
    wave: int
    sources: int
    claims: int
    errors: int


class GateData(EventData):
    continue_: bool = Field(alias="continue")  # a Python keyword: declared under its wire name
    stop_reason: StopReason | None = None
    reason: str
    branches: int
    wave: int | None = None
    queries: list[str]
    cost_usd: float
    elapsed_secs: float


class SynthesisStartedData(EventData):
    claims: int
    sources: int
    revision: int
    seconds_left: float
    cost_left_usd: float


class CriticData(EventData):
    verified: int
    dropped: int
    unverifiable: int
    unsupported_citations: list[int]  # citation numbers with no verified claim
    answers_question: bool
    revise: bool
    notes: list[str]


class CastData(EventData):
    schema_: str = Field(alias="schema")  # `custom` or `default`
    valid: bool
    repairs: int
    fields: int | None = None
    error: str | None = None


class ProgressData(EventData):
    stage: str
    elapsed_secs: float
    max_wallclock_secs: int
    cost_usd: float
    max_cost_usd: float
    searches: int
    max_searches: int
    pages: int
    max_pages: int
    tokens: int
    waves_done: int
    max_waves: int


EVENT_DATA: dict[str, type[EventData]] = {
    PLAN: PlanData,
    WAVE_STARTED: WaveStartedData,
    SEARCH: SearchData,
    SOURCE: SourceData,
    BRANCH_FAILED: BranchFailedData,
    WAVE_COMPLETED: WaveCompletedData,
    GATE: GateData,
    SYNTHESIS_STARTED: SynthesisStartedData,
    CRITIC: CriticData,
    CAST: CastData,
    PROGRESS: ProgressData,
}


def emit(runtime: Any, event_type: str, data: dict[str, Any]) -> None:
    """Send one event to whoever streams `custom` (a no-op when nobody does)."""
    runtime.stream_writer({"type": event_type, "data": data})


def progress(
    runtime: Any,
    stage: str,
    spend: Spend | None,
    budgets: ResearchBudgets,
    started_at: float,
    waves_done: int,
) -> None:
    """Spend against budget, emitted at every node boundary."""
    spend = spend or zero_spend()
    emit(
        runtime,
        PROGRESS,
        {
            "stage": stage,
            "elapsed_secs": round(time.time() - started_at, 3),
            "max_wallclock_secs": budgets.max_wallclock_secs,
            "cost_usd": usd(spend["cost_micros"]),
            "max_cost_usd": budgets.max_cost_usd,
            "searches": spend["searches"],
            "max_searches": budgets.max_searches,
            "pages": spend["pages"],
            "max_pages": budgets.max_pages,
            "tokens": spend["tokens"],
            "waves_done": waves_done,
            "max_waves": budgets.max_waves,
        },
    )
