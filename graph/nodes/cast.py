"""cast: the brief as a typed object — the client's JSON Schema, or the default one — plus its basis."""

from __future__ import annotations

from langgraph.runtime import Runtime

from graph.basis import build_basis, null_unsupported
from graph.budget import add_spend
from graph.citations import cited_sources, default_typed
from graph.context import ResearchContext
from graph.events import CAST, emit, progress
from graph.nodes.common import context_of, final_stage_budget
from graph.providers.offline import SchemaFiller
from graph.providers.reasoning import TypedOutputError
from graph.response_schema import first_violation
from graph.state import ResearchState, live_claims


async def cast(state: ResearchState, runtime: Runtime[ResearchContext]) -> dict:
    ctx = context_of(runtime, state.get("mode"))
    schema = state.get("response_schema")
    claims = live_claims(state)
    sources = state.get("sources") or {}
    cited = state.get("cited") or []
    budget = final_stage_budget(state, ctx)
    repairs = 0
    if schema is None:
        typed = default_typed(state["question"], state.get("brief") or "", claims)
    else:
        numbered = cited_sources(cited, claims, sources)
        try:
            if cited:
                typed, repairs = await ctx.reasoner.cast(
                    state["question"],
                    schema,
                    state.get("brief") or "",
                    numbered,
                    budget,
                    language=state.get("output_language"),
                )
            else:  # no evidence: nothing to cast, every field the schema lets be null is null
                typed = SchemaFiller(state["question"], state.get("brief") or "", []).fill_valid(schema)
            violation = first_violation(schema, typed)
            if violation is not None:  # never hand back an invalid object, whatever the reasoner claims
                raise violation
        except TypedOutputError as exc:
            emit(runtime, CAST, {"schema": "custom", "valid": False, "repairs": repairs, "error": str(exc)})
            exc.spend = budget.meter.spend
            raise
    basis = build_basis(typed, claims, sources, cited) if cited else []
    if schema is not None:
        typed = null_unsupported(typed, basis, schema)
    emit(
        runtime,
        CAST,
        {
            "schema": "custom" if schema is not None else "default",
            "valid": True,
            "repairs": repairs,
            "fields": len(basis),
        },
    )
    progress(
        runtime,
        "cast",
        add_spend(state.get("spend"), budget.meter.spend),
        ctx.budgets,
        state["started_at"],
        state.get("waves_done", 0),
    )
    return {
        "typed": typed,
        "basis": basis,
        "cast_repairs": repairs,
        "spend": budget.meter.spend,
        "errors": budget.errors,
    }
