"""plan: turn the question into the first queries (a follow-up's: the ones its earlier run lacks)."""

from __future__ import annotations

import time

from langgraph.runtime import Runtime

from graph.budget import Meter, wave_deadline
from graph.context import ResearchContext
from graph.events import PLAN, emit, progress
from graph.nodes.common import context_of
from graph.providers.reasoning import StepBudget
from graph.state import ResearchState, live_claims


async def plan(state: ResearchState, runtime: Runtime[ResearchContext]) -> dict:
    ctx = context_of(runtime, state.get("mode"))
    budgets = ctx.budgets
    question = (state.get("question") or "").strip()
    if not question:
        raise ValueError("question must not be empty")
    started = state.get("started_at") or time.time()
    # Planning may spend only what the synthesis reserve and one wave's search leave free.
    meter = Meter(
        cost_limit_micros=budgets.max_cost_micros
        - budgets.synthesis_cost_reserve_micros
        - ctx.prices.search(ctx.search.name)
    )
    budget = StepBudget(meter, wave_deadline(started, budgets))
    previous = state.get("previous_question")
    if previous:
        # A follow-up plans only what it adds to what the earlier run learned and searched.
        findings = [claim["text"] for claim in live_claims(state)]
        queries = await ctx.reasoner.follow_ups(
            f"{question} (follow-up to: {previous})",
            findings,
            state.get("previous_queries") or [],
            budgets.branches,
            budget,
        )
    else:
        # One wave's worth: later waves follow the gaps the gate finds in what was learned.
        queries = await ctx.reasoner.plan(question, budgets.branches, budget)
    emit(
        runtime,
        PLAN,
        {
            "queries": queries,
            "reasoner": ctx.reasoner.name,
            "search": ctx.search.name,
            "budgets": budgets.as_dict(),
        },
    )
    progress(runtime, "plan", meter.spend, budgets, started, 0)
    return {
        "question": question,
        "started_at": started,
        "pending_queries": queries,
        "waves_done": 0,
        "spend": meter.spend,
        "errors": budget.errors,
        "revisions": 0,
        "reasoner": ctx.reasoner.name,
    }
