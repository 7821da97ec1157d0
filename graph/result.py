"""The run's final state as a ResearchResult fragment the worker stores and serves."""

from __future__ import annotations

from typing import Any

from graph.budget import usd, zero_spend
from graph.citations import default_typed, number_for_writer, renumber
from graph.language import offline_note
from graph.providers.offline import extractive_brief
from graph.state import ResearchState, live_claims


def result_fragment(state: ResearchState, *, stop_reason: str | None = None) -> dict[str, Any]:
    """`brief, sources, typed, basis, stop_reason, wave_count, usage, cost_usd, errors, faithfulness`
    from a state (usage.reasoner names who wrote the brief: `offline` or the LLM provider).

    Works on partial states too (a canceled or timed-out run): with no brief yet, an extractive
    brief is written from the claims gathered so far. `stop_reason` overrides the state's.
    """
    sources = state.get("sources") or {}
    brief, cited = state.get("brief"), list(state.get("cited") or [])
    typed = state.get("typed")
    if brief is None:
        claims = live_claims(state)
        numbered = number_for_writer(state.get("question", ""), claims, sources)
        brief, cited = renumber(extractive_brief(state.get("question", ""), numbered), numbered)
        if not cited and stop_reason is None and not state.get("stop_reason"):
            stop_reason = "no_evidence"
        typed = default_typed(state.get("question", ""), brief, claims) if typed is None else typed
    ordered = cited + [url for url in sources if url not in cited]
    spend = state.get("spend") or zero_spend()
    return {
        "brief": brief,
        "sources": [
            {
                "url": url,
                "title": sources[url]["title"],
                "domain": sources[url]["domain"],
                "summary": sources[url]["summary"],
            }
            for url in ordered
            if url in sources
        ],
        "typed": typed if typed is not None else {},
        "basis": state.get("basis") or [],
        "stop_reason": stop_reason or state.get("stop_reason") or "complete",
        "wave_count": state.get("waves_done", 0),
        "usage": {
            "searches": spend["searches"],
            "pages": spend["pages"],
            "tokens": spend["tokens"],
            "llm_calls": spend.get("llm_calls", 0),
            "reasoner": state.get("reasoner"),
            **language_usage(state),
        },
        "faithfulness": state.get("faithfulness"),
        "cost_usd": usd(spend["cost_micros"]),
        "errors": list(state.get("errors") or []),
    }


def language_usage(state: ResearchState) -> dict[str, str]:
    """`output_language` when the brief was written in it, else a note saying why not."""
    tag = state.get("output_language")
    if not tag:
        return {}
    if state.get("reasoner") == "offline":
        return {"output_language_note": offline_note(tag)}
    return {"output_language": tag}
