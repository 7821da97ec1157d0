"""gate: before every wave, decide whether another one fits the budget, and with which queries."""

from __future__ import annotations

import time

from langgraph.runtime import Runtime
from langgraph.types import Command, Send

from graph.budget import GateDecision, Meter, add_spend, next_step, usd, wave_deadline, zero_spend
from graph.context import ResearchContext
from graph.events import GATE, WAVE_COMPLETED, WAVE_STARTED, emit, progress
from graph.nodes.common import context_of
from graph.providers.reasoning import StepBudget
from graph.state import Branch, ResearchState, live_claims


async def gate(state: ResearchState, runtime: Runtime[ResearchContext]) -> Command:
    ctx = context_of(runtime, state.get("mode"))
    budgets = ctx.budgets
    started = state["started_at"]
    waves_done = state.get("waves_done", 0)
    spend = state.get("spend") or zero_spend()
    if waves_done:
        report_wave(state, runtime, waves_done)

    done = state.get("queries_done") or []
    queries = [q for q in state.get("pending_queries") or [] if q not in done]
    search_cost = ctx.prices.search(ctx.search.name)
    page_cost = ctx.prices.page + ctx.reasoner.extraction_worst_case(state["question"])

    def decide(spent, available: int) -> GateDecision:
        return next_step(
            budgets,
            spent,
            waves_done,
            time.time() - started,
            available,
            search_cost_micros=search_cost,
            page_cost_micros=page_cost,
        )

    meter = Meter()
    errors = []
    decision = decide(spend, max(len(queries), budgets.branches if waves_done else 0))
    if decision.continue_research and len(queries) < len(decision.allowances):
        # Follow-ups may use what is left once one branch and the synthesis reserve are set aside.
        meter.cost_limit_micros = (
            budgets.max_cost_micros
            - budgets.synthesis_cost_reserve_micros
            - spend["cost_micros"]
            - (search_cost + page_cost)
        )
        budget = StepBudget(meter, wave_deadline(started, budgets))
        findings = [c["text"] for c in live_claims(state)]
        proposed = await ctx.reasoner.follow_ups(
            state["question"], findings, done + queries, len(decision.allowances) - len(queries), budget
        )
        errors = budget.errors
        queries += [q for q in proposed if q not in queries and q not in done]
        decision = decide(add_spend(spend, meter.spend), len(queries))

    total = add_spend(spend, meter.spend)
    emit(
        runtime,
        GATE,
        {
            **decision.as_event(),
            "wave": waves_done + 1 if decision.continue_research else None,
            "queries": queries[: len(decision.allowances)],
            "cost_usd": usd(total["cost_micros"]),
            "elapsed_secs": round(time.time() - started, 3),
        },
    )
    progress(runtime, "gate", total, budgets, started, waves_done)
    if not decision.continue_research:
        headroom = {
            "secs": round(started + budgets.max_wallclock_secs - time.time(), 3),
            "cost_usd": usd(budgets.max_cost_micros - total["cost_micros"]),
        }
        return Command(
            goto="synthesise",
            update={
                "stop_reason": decision.stop_reason,
                "synthesis_headroom": headroom,
                "spend": meter.spend,
                "errors": errors,
            },
        )

    wave = waves_done + 1
    chosen = queries[: len(decision.allowances)]
    seen = sorted(state.get("sources") or {})
    emit(runtime, WAVE_STARTED, {"wave": wave, "queries": chosen})
    sends = [
        Send(
            "wave",
            Branch(
                question=state["question"],
                mode=state.get("mode") or "standard",
                query=query,
                wave=wave,
                index=i,
                allowance=allowance,
                started_at=started,
                seen_urls=seen,
            ),
        )
        for i, (query, allowance) in enumerate(zip(chosen, decision.allowances, strict=False))
    ]
    return Command(
        goto=sends,
        update={
            "waves_done": wave,
            "pending_queries": queries[len(chosen) :],
            "spend": meter.spend,
            "errors": errors,
        },
    )


def report_wave(state: ResearchState, runtime: Runtime[ResearchContext], wave: int) -> None:
    sources = [s for s in (state.get("sources") or {}).values() if s["wave"] == wave]
    emit(
        runtime,
        WAVE_COMPLETED,
        {
            "wave": wave,
            "sources": len(sources),
            "claims": sum(1 for c in state.get("claims") or () if c["wave"] == wave),
            "errors": sum(1 for e in state.get("errors") or () if e.get("wave") == wave),
        },
    )
