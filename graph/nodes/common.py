"""Small pieces every node uses: its context, its deadline, and a meter sized to what is left."""

from __future__ import annotations

import time

from langgraph.runtime import Runtime

from graph.budget import Meter, ResearchBudgets, zero_spend
from graph.context import ResearchContext
from graph.providers.reasoning import StepBudget
from graph.state import ResearchState

# Synthesis, critic and cast stop this long before the hard deadline, so the run's final
# checkpoint and result are written inside `max_wallclock_secs`.
FINISH_MARGIN_SECS = 0.5


def started_at(state: ResearchState) -> float:
    return state.get("started_at") or time.time()


def hard_deadline(state: ResearchState, budgets: ResearchBudgets) -> float:
    return started_at(state) + budgets.max_wallclock_secs - FINISH_MARGIN_SECS


_default_contexts: dict[str, ResearchContext] = {}


def context_of(runtime: Runtime[ResearchContext], mode: str | None) -> ResearchContext:
    """The run's context; when the caller passed none (`langgraph dev`, Studio, a plain SDK run),
    one built from the environment for the state's mode, shared by the process."""
    if isinstance(runtime.context, ResearchContext):
        return runtime.context
    from graph.context import build_context
    from graph.modes import budgets_for
    from graph.settings import GraphSettings

    mode = mode if mode in ("lite", "standard", "pro") else "standard"
    if mode not in _default_contexts:
        _default_contexts[mode] = build_context(
            GraphSettings.from_env(), budgets_for(mode), page_store_path=None
        )
    return _default_contexts[mode]


def final_stage_budget(state: ResearchState, ctx: ResearchContext) -> StepBudget:
    """For synthesise/critic/cast: whatever cost is left under the cap, until the hard deadline."""
    budgets = ctx.budgets
    spent = (state.get("spend") or zero_spend())["cost_micros"]
    return StepBudget(Meter(cost_limit_micros=budgets.max_cost_micros - spent), hard_deadline(state, budgets))
