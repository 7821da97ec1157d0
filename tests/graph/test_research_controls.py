"""The graph's side of research controls: the source policy's host and date rules, and the
output language the model is asked to write in."""

from __future__ import annotations

from datetime import date

import pytest

from graph.builder import build_graph
from graph.modes import InvalidResearchRequest
from graph.policy import SourcePolicy
from graph.providers.search import published_date
from graph.result import result_fragment
from tests.graph.conftest import ENERGY_QUESTION
from tests.graph.test_online_run import PERSON_SCHEMA


def test_a_domain_covers_its_subdomains_and_nothing_that_merely_ends_like_it():
    policy = SourcePolicy.parse({"include_domains": ["Example.org."], "exclude_domains": ["ads.example.org"]})

    assert policy.allows_url("https://example.org/a") and policy.allows_url("https://docs.example.org/b")
    assert not policy.allows_url("https://badexample.org/") and not policy.allows_url(
        "https://example.org.evil.net/"
    )
    assert not policy.allows_url("https://cdn.ads.example.org/x")
    assert policy.allows_url("corpus://bm25.md")  # local documents have no host to judge


def test_dates_are_inclusive_and_an_unknown_date_passes():
    policy = SourcePolicy.parse({"after_date": "2025-01-01", "before_date": "2025-12-31"})

    assert policy.allows_date(date(2025, 1, 1)) and policy.allows_date(date(2025, 12, 31))
    assert not policy.allows_date(date(2024, 12, 31)) and not policy.allows_date(date(2026, 1, 1))
    assert policy.allows_date(None)
    assert published_date("Mon, 10 Jan 2022 08:00:00 GMT") == date(2022, 1, 10)
    assert published_date("2025-03-01T10:00:00Z") == date(2025, 3, 1) and published_date("soon") is None


def test_an_idn_domain_is_matched_in_its_ascii_form():
    policy = SourcePolicy.parse({"include_domains": ["bücher.example"]})

    assert policy.include_domains == ("xn--bcher-kva.example",)
    assert policy.allows_url("https://shop.bücher.example/") and not policy.allows_url(
        "https://buecher.example/"
    )
    with pytest.raises(InvalidResearchRequest) as refused:
        SourcePolicy.parse({"exclude_domains": ["ok.org", "exa mple.org"]})
    assert refused.value.field == "source_policy.exclude_domains[1]"


async def test_the_model_writes_the_brief_and_typed_values_in_the_output_language(
    online_context, llm, tavily
):
    state = await build_graph().ainvoke(
        {"question": ENERGY_QUESTION, "response_schema": PERSON_SCHEMA, "output_language": "de"},
        config={"recursion_limit": 64},
        context=online_context("lite"),
    )

    briefs, casts = llm.calls_for("brief"), llm.calls_for("typed_result")
    assert briefs and all(payload["output_language"] == "de" for payload in briefs)
    assert casts and all(payload["output_language"] == "de" for payload in casts)
    usage = result_fragment(state)["usage"]
    assert usage["output_language"] == "de" and "output_language_note" not in usage


async def test_without_an_output_language_the_model_is_not_told_one(online_context, llm, tavily):
    await build_graph().ainvoke(
        {"question": ENERGY_QUESTION}, config={"recursion_limit": 64}, context=online_context("lite")
    )

    assert llm.calls_for("brief") and all("output_language" not in p for p in llm.calls_for("brief"))
