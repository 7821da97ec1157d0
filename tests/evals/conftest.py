"""Fixtures for the eval harness tests: the shipped corpus and dataset, and result builders."""

from __future__ import annotations

from typing import Any

import pytest

from evals.dataset import Corpus, EvalItem, load_corpus, load_dataset

LITE_BUDGETS = {"max_cost_usd": 0.05, "max_wallclock_secs": 60, "max_waves": 1, "branches": 3,
                "max_searches": 3, "max_pages": 6, "synthesis_time_reserve_secs": 15,
                "synthesis_cost_reserve_usd": 0.01}


@pytest.fixture(scope="session")
def corpus() -> Corpus:
    return load_corpus()


@pytest.fixture(scope="session")
def source_texts(corpus) -> dict[str, str]:
    return corpus.texts_by_url()


@pytest.fixture(scope="session")
def dataset() -> dict[str, EvalItem]:
    return {item.id: item for item in load_dataset()}


@pytest.fixture
def lite_budgets() -> dict[str, Any]:
    return dict(LITE_BUDGETS)


def build_research_result(corpus: Corpus, claims: list[tuple[str, str, str]], *, typed: dict | None = None,
                    **overrides: Any) -> dict[str, Any]:
    """A ResearchResult-shaped dict whose brief states each claim with a [n] marker backed by
    (corpus path, quote). Sources are numbered in first-use order, as the graph numbers them."""
    paths: list[str] = []
    sentences, citations = [], []
    for sentence, path, quote in claims:
        if path not in paths:
            paths.append(path)
        n = paths.index(path) + 1
        sentences.append(f"{sentence} [{n}].")
        citations.append({"n": n, "url": corpus.by_path(path).url, "quote": quote})
    sources = [{"url": corpus.by_path(p).url, "title": corpus.by_path(p).title, "domain": "corpus.infrence.test"}
               for p in paths]
    brief = "# Answer\n\n" + " ".join(sentences) + "\n\n## Sources\n" + "\n".join(
        f"[{i}] {s['title']} — {s['url']}" for i, s in enumerate(sources, start=1))
    result = {
        "id": "00000000-0000-0000-0000-000000000001", "status": "succeeded", "question": "q",
        "brief": brief, "sources": sources, "citations": citations,
        "typed": typed if typed is not None else {"answer": " ".join(s for s, _, _ in claims),
                                                  "key_findings": [], "open_questions": []},
        "basis": [], "stop_reason": "complete", "credits_charged": 15, "cost_usd": 0.031,
        "latency_ms": 21_000, "created_at": "2024-01-01T00:00:00Z",
        "usage": {"cost_usd": 0.031, "elapsed_secs": 21.0, "waves": 1, "searches": 3, "pages": 5},
    }
    result.update(overrides)
    return result


@pytest.fixture(scope="session")
def research_result(corpus):
    """`research_result(claims, typed=..., **overrides)`: see `build_research_result`."""
    return lambda claims, **kwargs: build_research_result(corpus, claims, **kwargs)
