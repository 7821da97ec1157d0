"""critic: check every cited claim's quote against its source and that the brief answers the
question; send the brief back for one revision at most; then keep only the sentences their
cited quotes support."""

from __future__ import annotations

from langgraph.runtime import Runtime
from langgraph.types import Command

from graph.budget import add_spend
from graph.citations import markers_in
from graph.context import ResearchContext
from graph.events import CRITIC, emit, progress
from graph.nodes.common import context_of, final_stage_budget
from graph.providers.offline import no_evidence_brief
from graph.providers.text import find_verbatim
from graph.state import ResearchState, live_claims
from graph.support import check_brief

MAX_REVISIONS = 1


async def critic(state: ResearchState, runtime: Runtime[ResearchContext]) -> Command:
    ctx = context_of(runtime, state.get("mode"))
    brief = state.get("brief") or ""
    cited = state.get("cited") or []
    claims = live_claims(state)
    dropped, unverifiable = [], 0
    texts = {url: await ctx.pages.aget(url) for url in cited}
    for claim in claims:
        if claim["url"] not in cited:
            continue
        text = texts[claim["url"]]
        if text is None:
            unverifiable += 1  # page not on this host (resumed elsewhere); checked when extracted
        elif find_verbatim(claim["quote"], text) is None:
            dropped.append(claim["id"])
    standing = {c["url"] for c in claims if c["id"] not in dropped}
    unsupported = sorted({n for n in markers_in(brief) if n > len(cited) or cited[n - 1] not in standing})

    budget = final_stage_budget(state, ctx)
    if not cited:  # a no-evidence brief states nothing: nothing to check, nothing to spend
        emit(runtime, CRITIC, {"verified": 0, "dropped": 0, "revise": False, "notes": []})
        return Command(goto="cast", update={"faithfulness": {"sentences": 0, "supported": 0, "removed": 0}})
    critique = await ctx.reasoner.critique(state["question"], brief, budget)
    notes = list(critique.notes)
    if dropped:
        notes.append(f"{len(dropped)} claims were dropped: their quotes are not in their sources")
    if unsupported:
        notes.append(f"citations {unsupported} have no verified claim behind them")
    revisions = state.get("revisions", 0)
    # The offline writer is deterministic: without dropped claims a rewrite would change nothing.
    can_improve = bool(dropped or unsupported) or (
        not critique.answers_question and ctx.reasoner.name != "offline"
    )
    revise = can_improve and revisions < MAX_REVISIONS and bool(claims)
    update: dict = {"dropped_claims": (state.get("dropped_claims") or []) + dropped, "critic_notes": notes}
    event = {
        "verified": len(claims) - len(dropped) - unverifiable,
        "dropped": len(dropped),
        "unverifiable": unverifiable,
        "unsupported_citations": unsupported,
        "answers_question": critique.answers_question,
        "revise": revise,
        "notes": notes,
    }
    if not revise:
        standing_claims = [c for c in claims if c["id"] not in dropped]
        checked = await check_brief(ctx.reasoner, brief, cited, standing_claims, budget)
        update.update(brief=checked.brief, cited=checked.cited, faithfulness=checked.as_dict())
        if not checked.cited:
            update.update(brief=no_evidence_brief(state["question"]), stop_reason="no_evidence")
        event.update(faithfulness=checked.as_dict(), removed_sentences=checked.removed[:10])
    emit(runtime, CRITIC, event)
    progress(
        runtime,
        "critic",
        add_spend(state.get("spend"), budget.meter.spend),
        ctx.budgets,
        state["started_at"],
        state.get("waves_done", 0),
    )
    update.update(spend=budget.meter.spend, errors=budget.errors)
    if revise:
        return Command(goto="synthesise", update={**update, "revisions": revisions + 1})
    return Command(goto="cast", update=update)
