"""synthesise: write the cited Markdown brief from the claims still standing."""

from __future__ import annotations

from langgraph.runtime import Runtime

from graph.budget import add_spend
from graph.citations import number_for_writer, renumber
from graph.context import ResearchContext
from graph.events import SYNTHESIS_STARTED, emit, progress
from graph.nodes.common import context_of, final_stage_budget
from graph.providers.offline import no_evidence_brief
from graph.providers.reasoning import ProviderUnavailable
from graph.state import ResearchState, live_claims


async def synthesise(state: ResearchState, runtime: Runtime[ResearchContext]) -> dict:
    ctx = context_of(runtime, state.get("mode"))
    failed = [e for e in state.get("errors") or () if e["stage"] == "search"]
    if failed and len(failed) >= len(state.get("queries_done") or ()):
        # Every search failed after its retries: an outage, not an absence of evidence.
        raise ProviderUnavailable(ctx.search.name, "search", RuntimeError(failed[-1]["error"]))
    claims = live_claims(state)
    numbered = number_for_writer(state["question"], claims, state.get("sources") or {})
    budget = final_stage_budget(state, ctx)
    emit(
        runtime,
        SYNTHESIS_STARTED,
        {
            "claims": len(claims),
            "sources": len(numbered),
            "revision": state.get("revisions", 0),
            "seconds_left": round(budget.seconds_left(), 3),
            "cost_left_usd": (budget.meter.remaining_micros() or 0) / 1_000_000,
        },
    )
    update: dict = {}
    if numbered:
        brief = await ctx.reasoner.write(
            state["question"],
            numbered,
            state.get("critic_notes") or [],
            budget,
            language=state.get("output_language"),
        )
        brief, cited = renumber(brief, numbered)
    if not numbered or not cited:
        # Nothing read bears on the question: say so plainly, cite nothing, spend nothing more.
        brief, cited = no_evidence_brief(state["question"]), []
        update["stop_reason"] = "no_evidence"
    progress(
        runtime,
        "synthesise",
        add_spend(state.get("spend"), budget.meter.spend),
        ctx.budgets,
        state["started_at"],
        state.get("waves_done", 0),
    )
    return {**update, "brief": brief, "cited": cited, "spend": budget.meter.spend, "errors": budget.errors}
