"""The research pipeline (docs/design.md, "Layers" and "Modes and budgets"): knows nothing of HTTP, users or credits.

What the API and its job worker use:

- `graph.modes.plan_for(mode, max_credits=, max_wallclock_secs=, response_schema=)` -> ModePlan
  (budgets, credits_to_reserve, credits_for(cost_usd, stop_reason)); raises
  `InvalidResearchRequest` (a ValueError with `.field`) for a 400. `validate_response_schema`.
- `graph.context.build_context(settings, budgets)` -> ResearchContext (rebuild it on resume;
  `await ctx.aclose()` after the run).
- `graph.builder.build_graph(checkpointer)` -> compiled graph; input `{"question", "mode",
  "response_schema"}`; custom stream events per `graph.events`.
- `graph.result.result_fragment(state, stop_reason=None)` -> the ResearchResult fields.
- `graph.providers.netguard.guarded_client(allow_private=)` -> an SSRF-safe httpx client.
- `graph.providers.reasoning.TypedOutputError`: raised by the run when no valid typed object
  can be produced (the job fails with its message).
"""
