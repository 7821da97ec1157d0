"""The graph with real clients against fake OpenAI and Tavily servers over HTTP."""

from __future__ import annotations

import jsonschema
import pytest

from graph.citations import DEFAULT_SCHEMA
from graph.pricing import DEFAULT_PRICES
from graph.providers.reasoning import TypedOutputError
from graph.result import result_fragment
from tests.graph.conftest import run_graph

PERSON_SCHEMA = {
    "type": "object",
    "properties": {
        "headline": {"type": "string"},
        "cop": {"type": "number", "minimum": 1},
        "risks": {"type": "array", "items": {"type": "string"}, "minItems": 1},
    },
    "required": ["headline", "cop", "risks"],
    "additionalProperties": False,
}


async def test_every_stage_calls_the_model_with_structured_output(online_context, llm, tavily):
    run = await run_graph(online_context("standard"))
    stages = {name for name, _ in llm.calls}
    assert stages >= {"plan", "extraction", "follow_ups", "brief", "critique"}
    request = next(r.json() for r in reversed(llm.requests) if r.path == "/v1/chat/completions")
    assert request["response_format"]["type"] == "json_schema"
    assert request["response_format"]["json_schema"]["strict"] is True
    assert request["max_completion_tokens"] or request["max_tokens"]
    assert len(tavily.calls) == run.state["spend"]["searches"] <= 8
    jsonschema.validate(run.state["typed"], DEFAULT_SCHEMA)
    assert run.state["brief"] and run.state["cited"]
    assert run.state["stop_reason"] in ("complete", "budget")


async def test_usage_from_the_model_becomes_spend_at_table_prices(online_context, llm, tavily):
    llm.usage = lambda request, content: (1000, 100)
    run = await run_graph(online_context("lite"))
    spend = run.state["spend"]
    calls = {
        name: len(llm.calls_for(name))
        for name in ("plan", "extraction", "brief", "critique", "support", "follow_ups")
    }
    assert spend["llm_calls"] == sum(calls.values())
    assert spend["tokens"] == 1100 * spend["llm_calls"]
    mini, big = DEFAULT_PRICES.model("gpt-4o-mini"), DEFAULT_PRICES.model("gpt-4o")
    per_mini = -(-(1000 * mini.input_per_1k + 100 * mini.output_per_1k) // 1000)
    per_big = -(-(1000 * big.input_per_1k + 100 * big.output_per_1k) // 1000)
    llm_cost = per_big * calls["brief"] + per_mini * (spend["llm_calls"] - calls["brief"])
    expected = (
        llm_cost + spend["searches"] * DEFAULT_PRICES.search("tavily") + spend["pages"] * DEFAULT_PRICES.page
    )
    assert spend["cost_micros"] == expected
    assert result_fragment(run.state)["cost_usd"] == pytest.approx(expected / 1e6)


async def test_a_failing_branch_is_recorded_and_its_siblings_finish(online_context, llm, tavily):
    tavily.fail_when(lambda q: "statistics" in q, status=500, times=100)
    run = await run_graph(online_context("standard"))
    failed = run.of_type("branch.failed")
    assert [f["query"] for f in failed if f["stage"] == "search"] == [
        q for q in tavily.calls if "statistics" in q
    ][:1]
    assert any("statistics" in e.get("query", "") for e in run.state["errors"])
    assert len(run.state["sources"]) >= 2  # the corpus's two pages that bear on the question
    assert tavily.calls.count(failed[0]["query"]) == 3  # three attempts of the retry policy


async def test_rate_limits_are_retried_with_backoff(online_context, llm, tavily):
    tavily.fail_when(lambda q: "overview" in q, status=429, times=1)
    llm.fail_when(lambda name, payload: name == "brief", status=503, times=1)
    run = await run_graph(online_context("lite"))
    assert not run.of_type("branch.failed")
    assert len(llm.calls_for("brief")) == 2
    assert not [e for e in run.state["errors"] if e["stage"] == "write"]


async def test_quotes_not_in_the_page_are_dropped(online_context, llm, tavily):
    def invent(payload, request):
        return {
            "summary": "A page.",
            "findings": [{"claim": "Made up.", "quote": "This sentence is nowhere."}],
        }

    llm.handlers["extraction"] = invent
    run = await run_graph(online_context("lite"))
    assert run.state["claims"] == []
    assert any("quote not found" in e["error"] for e in run.state["errors"])


async def test_the_critic_sends_the_brief_back_once_at_most(online_context, llm, tavily):
    llm.handlers["critique"] = lambda payload, request: {"answers_question": False, "notes": ["too vague"]}
    run = await run_graph(online_context("lite"))
    assert len(llm.calls_for("brief")) == 2
    assert llm.calls_for("brief")[1]["notes"][0] == "too vague"
    assert [c["revise"] for c in run.of_type("critic")] == [True, False]
    assert run.state["revisions"] == 1 and run.state["typed"]


async def test_the_cast_repairs_an_invalid_object(online_context, llm, tavily):
    answers = iter(
        [
            {"headline": "Heat pumps", "cop": 0, "risks": []},
            {"headline": "Heat pumps", "cop": 3, "risks": ["cold weather"]},
        ]
    )
    llm.handlers["typed_result"] = lambda payload, request: next(answers)
    run = await run_graph(online_context("lite"), schema=PERSON_SCHEMA)
    assert run.state["typed"] == {"headline": "Heat pumps", "cop": 3, "risks": ["cold weather"]}
    assert run.state["cast_repairs"] == 1
    repair = llm.calls_for("typed_result")[1]
    assert any("cop" in e for e in repair["errors"])
    request = [r.json() for r in llm.requests if b"typed_result" in r.body][-1]
    assert request["response_format"]["json_schema"]["schema"] == PERSON_SCHEMA
    assert {b["field"] for b in run.state["basis"]} == {"headline", "cop", "risks[0]"}


async def test_the_cast_refuses_after_two_repairs(online_context, llm, tavily):
    llm.handlers["typed_result"] = lambda payload, request: {"headline": 7}
    with pytest.raises(TypedOutputError, match="after 2 repairs"):
        await run_graph(online_context("lite"), schema=PERSON_SCHEMA)
    assert len(llm.calls_for("typed_result")) == 3


async def test_streaming_messages_mode_still_meters_usage(online_context, llm, tavily):
    run = await run_graph(online_context("lite"), config={})
    plain_tokens = run.state["spend"]["tokens"]
    from graph.builder import build_graph

    graph = build_graph()
    streamed = None
    async for mode, chunk in graph.astream(
        {"question": "heat pump efficiency"},
        config={"recursion_limit": 64},
        context=online_context("lite"),
        stream_mode=["messages", "values"],
    ):
        if mode == "values":
            streamed = chunk
    assert any(r.json().get("stream") for r in llm.requests if r.path == "/v1/chat/completions")
    assert streamed["spend"]["tokens"] > 0 and plain_tokens > 0
