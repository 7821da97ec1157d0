"""Fixtures for the research graph: the test corpus, fake OpenAI and Tavily servers over real
HTTP, contexts wired to them, and a helper that runs the graph and collects its events."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from graph.builder import build_graph
from graph.context import build_context
from graph.modes import budgets_for
from graph.providers.extract import document_text
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.tavily_server import FakeTavily

CORPUS = Path(__file__).resolve().parent / "corpus"
ENERGY_QUESTION = "How efficient are heat pumps and how do batteries help solar power?"


def corpus_documents() -> list[dict[str, str]]:
    """The test corpus as web pages, for the fake Tavily."""
    docs = []
    for path in sorted(CORPUS.iterdir()):
        title, text = document_text(path)
        docs.append({"url": f"https://energy.example/{path.stem}", "title": title, "text": text})
    return docs


@pytest.fixture(scope="session")
def fake_openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture(scope="session")
def fake_tavily() -> Iterator[FakeTavily]:
    with FakeTavily(corpus_documents()) as server:
        yield server


@pytest.fixture
def llm(fake_openai) -> Iterator[FakeOpenAI]:
    """The session's fake OpenAI, with default answers and an empty log for this test."""
    handlers = dict(fake_openai.handlers)
    fake_openai.calls.clear()
    fake_openai.failures.clear()
    yield fake_openai
    fake_openai.handlers = handlers
    fake_openai.failures.clear()
    fake_openai.latency = 0.0
    fake_openai.usage = fake_openai.estimated_usage


@pytest.fixture
def tavily(fake_tavily) -> Iterator[FakeTavily]:
    fake_tavily.calls.clear()
    fake_tavily.failures.clear()
    fake_tavily.delays.clear()
    yield fake_tavily
    fake_tavily.failures.clear()
    fake_tavily.delays.clear()
    fake_tavily.latency = 0.0
    fake_tavily.on_request = None
    fake_tavily.release.clear()


def online_settings(llm: FakeOpenAI, tavily: FakeTavily, data_dir: Path) -> dict[str, Any]:
    return {
        "openai_api_key": llm.api_key,
        "openai_base_url": llm.base_url,
        "tavily_api_key": tavily.api_key,
        "tavily_api_base": tavily.url,
        "data_dir": data_dir,
        "model_planner": "gpt-4o-mini",
        "model_extractor": "gpt-4o-mini",
        "model_writer": "gpt-4o",
        "model_critic": "gpt-4o-mini",
        "model_caster": "gpt-4o-mini",
    }


@pytest.fixture
def offline_context(tmp_path):
    """Build offline contexts over the test corpus; all are closed after the test."""
    made = []

    def make(mode: str = "standard", **budget_changes):
        budgets = budgets_for(mode, max_credits=100 if mode == "max" else None)
        ctx = build_context(
            {"data_dir": tmp_path, "corpus_dir": CORPUS},
            dataclasses.replace(budgets, **budget_changes),
            page_store_path=None,
        )
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        ctx.pages.close()


@pytest.fixture
async def online_context(llm, tavily, tmp_path):
    made = []

    def make(mode: str = "standard", *, prices=None, **budget_changes):
        budgets = dataclasses.replace(
            budgets_for(mode, max_credits=100 if mode == "max" else None), **budget_changes
        )
        ctx = build_context(
            online_settings(llm, tavily, tmp_path), budgets, prices=prices, page_store_path=None
        )
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        await ctx.aclose()


@dataclasses.dataclass
class Run:
    state: dict[str, Any]
    events: list[dict[str, Any]]

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [e["data"] for e in self.events if e["type"] == kind]

    @property
    def types(self) -> list[str]:
        return [e["type"] for e in self.events]


async def run_graph(
    ctx,
    question: str = ENERGY_QUESTION,
    *,
    schema: dict | None = None,
    graph=None,
    config: dict | None = None,
) -> Run:
    """Run the research graph to the end, streaming custom events and the final values."""
    graph = graph or build_graph()
    events, state = [], {}
    inputs = {"question": question, "response_schema": schema}
    async for mode, chunk in graph.astream(
        inputs,
        config={"recursion_limit": 64, **(config or {})},
        context=ctx,
        stream_mode=["custom", "values"],
    ):
        if mode == "custom":
            events.append(chunk)
        else:
            state = chunk
    return Run(state, events)
