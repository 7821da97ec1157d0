"""Typed custom stream events (docs/design.md, "Events"); nodes emit them through LangGraph's stream writer.

Each event is `{"type": <one of EVENT_TYPES>, "data": {...}}`; with
`stream_mode=["custom", ...]` the worker receives these dicts as `("custom", event)` chunks.
`job.*` events belong to the worker, not to the graph. Clients must tolerate unknown types.
"""

from __future__ import annotations

import time
from typing import Any

from graph.budget import ResearchBudgets, Spend, usd, zero_spend

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

EVENT_TYPES = (
    PLAN,
    WAVE_STARTED,
    SEARCH,
    SOURCE,
    BRANCH_FAILED,
    WAVE_COMPLETED,
    GATE,
    SYNTHESIS_STARTED,
    CRITIC,
    CAST,
    PROGRESS,
)


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
