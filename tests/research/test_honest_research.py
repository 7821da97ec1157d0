"""Honest research through POST /v1/research (issue 16): answer from relevant sources with quotes
that are in them, or abstain and charge nothing; a provider outage fails the job, free, by name."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from ledger.check import check_ledger
from tests.accounts import balance_of, open_account
from tests.fakes.openai_server import FakeOpenAI


async def test_a_question_the_corpus_cannot_answer_is_abstained_on_and_costs_nothing(
    api, funded, research_app
):
    response = await api.post(
        "/v1/research",
        headers=funded.key,
        json={"question": "What changed in EU battery regulation in 2025?", "mode": "lite"},
    )

    result = response.json()
    assert response.status_code == 200, response.text
    assert result["status"] == "succeeded" and result["stop_reason"] == "no_evidence"
    assert result["sources"] == [] and "[1]" not in result["brief"]
    assert "do not contain an answer" in result["brief"]
    assert result["typed"]["key_findings"] == [] and result["basis"] == []
    assert result["credits_charged"] == 0 and result["usage"]["reasoner"] == "offline"
    assert await balance_of(research_app.state.db, funded) == 1000
    assert (await check_ledger(research_app.state.db)).clean


async def test_the_bm25_question_is_answered_from_its_source_with_values_parsed_from_quotes(
    api, funded, research_app
):
    schema = {
        "type": "object",
        "properties": {"k1": {"type": ["number", "null"]}, "b": {"type": ["number", "null"]}},
        "required": ["k1", "b"],
    }
    response = await api.post(
        "/v1/research",
        headers=funded.key,
        json={
            "question": "What is BM25 and what do k1 and b control?",
            "mode": "lite",
            "response_schema": schema,
        },
    )

    result = response.json()
    assert response.status_code == 200, response.text
    assert result["status"] == "succeeded" and result["stop_reason"] == "complete"
    assert [s["url"] for s in result["sources"]] == ["corpus://bm25.md"]
    assert "0.75" in result["brief"] and "between 1.2 and 2.0" in result["brief"]
    assert "HMAC" not in result["brief"] and "checkpoint" not in result["brief"].lower()
    assert result["typed"] == {"k1": 1.2, "b": 0.75}  # from the quotes, never a default of 1.0
    assert result["faithfulness"]["removed"] == 0 and result["faithfulness"]["supported"] >= 2
    assert result["credits_charged"] == 15
    document = await api.get("/v1/corpus/bm25.md", headers=funded.key)
    assert document.status_code == 200, document.text
    assert document.json()["url"] == "corpus://bm25.md"
    for entry in result["basis"]:
        for citation in entry["citations"]:
            assert citation["quote"] in document.json()["text"]
    basis = {entry["field"]: entry for entry in result["basis"]}
    assert "0.75" in basis["b"]["citations"][0]["quote"] and "k1" in basis["k1"]["citations"][0]["quote"]


async def test_corpus_documents_are_served_only_by_their_corpus_path_and_only_to_callers(
    api, funded, research_app
):
    dashboard = await api.get("/api/corpus/bm25.md", headers=funded.jwt)
    assert dashboard.status_code == 200 and dashboard.json()["title"] == "BM25 ranking"
    assert (await api.get("/v1/corpus/bm25.md")).status_code == 401
    assert (await api.get("/v1/corpus/nope.md", headers=funded.key)).status_code == 404
    assert (await api.get("/v1/corpus/..%2F..%2Fpyproject.toml", headers=funded.key)).status_code == 404


@pytest.fixture
async def outage_api(settings, clean_storage) -> AsyncIterator[tuple[httpx.AsyncClient, object]]:
    """The app with one worker whose model provider answers every call with a 500."""
    from api.app import create_app
    from api.runtime import background_services_for

    with FakeOpenAI() as llm:
        llm.fail_when(lambda name, payload: True, status=500, times=10**6)
        down = settings.model_copy(update={"openai_api_key": llm.api_key, "openai_base_url": llm.base_url})
        application = create_app(down, background_services=background_services_for(down, 1))
        async with application.router.lifespan_context(application):
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://testserver", timeout=120
            ) as http:
                yield http, application


async def test_a_model_provider_outage_fails_the_job_by_name_and_releases_the_reservation(outage_api):
    http, application = outage_api
    account = await open_account(http, application.state.db, credits=1000)

    response = await http.post(
        "/v1/research", headers=account.key, json={"question": "What is BM25?", "mode": "lite"}
    )

    result = response.json()
    assert result["status"] == "failed", result
    assert result["error_code"] == "provider_unavailable"
    assert "openai" in result["error"] and "plan" in result["error"]
    assert any(e["stage"] == "plan" for e in result["errors"])
    assert result["credits_charged"] == 0
    assert await balance_of(application.state.db, account) == 1000
    assert (await check_ledger(application.state.db)).clean
