"""Property: whatever the budgets, provider latencies and prices, no run exceeds a cap, and
synthesis always starts with its reserve."""

from __future__ import annotations

import random
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph.budget import ResearchBudgets
from graph.context import build_context
from graph.pricing import ModelPrice, PriceTable
from tests.graph.conftest import online_settings, run_graph

TIME_SLACK_SECS = 1.5  # event-loop and checkpoint scheduling on a busy 2-core machine


@st.composite
def budgets(draw) -> ResearchBudgets:
    max_cost = draw(st.integers(2_000, 200_000)) / 1e6
    wallclock = draw(st.integers(2, 4))
    return ResearchBudgets(
        max_cost_usd=max_cost,
        max_wallclock_secs=wallclock,
        max_waves=draw(st.integers(1, 3)),
        branches=draw(st.integers(1, 4)),
        max_searches=draw(st.integers(1, 8)),
        max_pages=draw(st.integers(1, 10)),
        synthesis_time_reserve_secs=draw(st.integers(1, wallclock - 1)),
        synthesis_cost_reserve_usd=round(max_cost * draw(st.floats(0.05, 0.6)), 6),
        pages_per_branch=draw(st.integers(1, 3)),
    )


@st.composite
def prices(draw) -> PriceTable:
    model = ModelPrice(draw(st.integers(0, 5_000)), draw(st.integers(0, 20_000)))
    return PriceTable(
        models={"gpt-4o-mini": model, "gpt-4o": model},
        searches={"tavily": draw(st.integers(0, 20_000))},
        page=draw(st.integers(0, 3_000)),
    )


@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    budget=budgets(),
    price_table=prices(),
    search_latency=st.floats(0, 0.12),
    llm_latency=st.floats(0, 0.12),
    seed=st.integers(0, 2**16),
)
async def test_no_run_exceeds_a_cap(
    llm, tavily, tmp_path, budget, price_table, search_latency, llm_latency, seed
):
    rng = random.Random(seed)

    def usage(request, content):  # any honest usage: within the prompt's bytes and max_tokens
        prompt_bytes = sum(len(str(m.get("content")).encode()) for m in request["messages"])
        return rng.randint(0, prompt_bytes), rng.randint(0, request.get("max_completion_tokens") or 1_000)

    llm.usage, llm.latency, tavily.latency = usage, llm_latency, search_latency
    ctx = build_context(
        online_settings(llm, tavily, tmp_path), budget, prices=price_table, page_store_path=None
    )
    started = time.time()
    try:
        run = await run_graph(ctx, config={})
    finally:
        await ctx.aclose()
    elapsed = time.time() - started
    spend = run.state["spend"]

    assert spend["cost_micros"] <= budget.max_cost_micros
    assert spend["searches"] <= budget.max_searches
    assert spend["pages"] <= budget.max_pages
    assert run.state["waves_done"] <= budget.max_waves
    assert elapsed <= budget.max_wallclock_secs + TIME_SLACK_SECS
    headroom = run.state["synthesis_headroom"]
    assert headroom["cost_usd"] * 1e6 >= budget.synthesis_cost_reserve_micros - 1
    assert headroom["secs"] >= budget.synthesis_time_reserve_secs - TIME_SLACK_SECS
    assert run.state["brief"] and run.state["typed"] is not None
