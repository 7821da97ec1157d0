"""An offline run over a small corpus, end to end: every citation is grounded verbatim."""

from __future__ import annotations

import jsonschema
import pytest

from graph.citations import DEFAULT_SCHEMA, markers_in
from graph.providers.extract import document_text
from graph.providers.reasoning import TypedOutputError
from graph.result import result_fragment
from tests.graph.conftest import CORPUS, run_graph


def source_text(url: str) -> str:
    assert url.startswith("corpus://"), url  # a stable id, never a server path
    return document_text(CORPUS / url.removeprefix("corpus://"))[1]


async def test_every_citation_quote_is_verbatim_in_its_source_document(offline_context):
    run = await run_graph(offline_context("standard"))
    state = run.state
    cited = state["cited"]
    assert cited, "the brief cites sources"
    assert set(markers_in(state["brief"])) == set(range(1, len(cited) + 1))
    claims = [c for c in state["claims"] if c["url"] in cited]
    assert claims
    for claim in claims:
        assert claim["quote"] in source_text(claim["url"])
    for entry in state["basis"]:
        for citation in entry["citations"]:
            assert " ".join(citation["quote"].split()) in " ".join(source_text(citation["url"]).split())


async def test_the_result_fills_the_contract_and_the_default_schema(offline_context):
    run = await run_graph(offline_context("lite"))
    result = result_fragment(run.state)
    jsonschema.validate(result["typed"], DEFAULT_SCHEMA)
    assert result["stop_reason"] == "complete"
    assert result["wave_count"] == 1
    assert result["sources"][: len(run.state["cited"])] == [
        {k: run.state["sources"][url][k] for k in ("url", "title", "domain", "summary")}
        for url in run.state["cited"]
    ]
    for source in result["sources"]:
        assert source["summary"] and source["title"] and source["domain"] == "corpus"
    assert result["usage"]["searches"] <= 3 and result["usage"]["pages"] <= 6
    assert result["cost_usd"] == pytest.approx(result["usage"]["pages"] * 0.0001)
    for finding in result["typed"]["key_findings"]:
        assert all(1 <= n <= len(run.state["cited"]) for n in finding["citations"])
    assert {b["confidence"] for b in result["basis"]} <= {"low", "medium", "high"}
    assert any(b["field"].startswith("key_findings[0]") for b in result["basis"])


async def test_events_follow_the_pipeline(offline_context):
    run = await run_graph(offline_context("standard"))
    order = [t for t in run.types if t != "progress"]
    assert order[0] == "plan" and order[1] == "gate" and order[2] == "wave.started"
    assert order[-4:] == ["gate", "synthesis.started", "critic", "cast"]
    assert "search" in order and "source" in order and "wave.completed" in order
    assert {e["stage"] for e in run.of_type("progress")} >= {"plan", "gate", "synthesise", "critic", "cast"}
    last = run.of_type("progress")[-1]
    assert last["cost_usd"] <= last["max_cost_usd"] and last["pages"] <= last["max_pages"]


async def test_a_custom_schema_is_filled_offline_and_validates(offline_context):
    schema = {
        "type": "object",
        "properties": {
            "summary": {"type": "string", "maxLength": 300},
            "technologies": {
                "type": "array",
                "minItems": 2,
                "items": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "efficiency_percent": {"type": "number", "minimum": 0},
                        "mature": {"type": "boolean"},
                    },
                    "required": ["name", "efficiency_percent"],
                },
            },
            "outlook": {"enum": ["growing", "stable", "declining"]},
        },
        "required": ["summary", "technologies", "outlook"],
        "additionalProperties": False,
    }
    run = await run_graph(offline_context("lite"), schema=schema)
    jsonschema.validate(run.state["typed"], schema)
    fields = {b["field"] for b in run.state["basis"]}
    assert {"summary", "technologies[0].name", "technologies[1].efficiency_percent", "outlook"} <= fields


async def test_a_schema_no_object_can_satisfy_fails_clearly(offline_context):
    schema = {
        "type": "object",
        "properties": {"code": {"type": "string", "pattern": "^[0-9]{40}$"}},
        "required": ["code"],
    }
    with pytest.raises(TypedOutputError, match="code"):
        await run_graph(offline_context("lite"), schema=schema)
