"""Fixtures for the eval harness tests: the shipped corpus and dataset, and result builders."""

from __future__ import annotations

from typing import Any

import pytest

from evals.dataset import Corpus, Document, EvalItem, load_corpus, load_dataset
from tests.fakes.openai_server import FakeHTTPServer, Request, Response

LITE_BUDGETS = {
    "max_cost_usd": 0.05,
    "max_wallclock_secs": 60,
    "max_waves": 1,
    "branches": 3,
    "max_searches": 3,
    "max_pages": 6,
    "synthesis_time_reserve_secs": 15,
    "synthesis_cost_reserve_usd": 0.01,
}


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


def build_research_result(
    corpus: Corpus, claims: list[tuple[str, str, str]], *, typed: dict | None = None, **overrides: Any
) -> dict[str, Any]:
    """A result shaped like the runner's (ResearchResult fields plus the graph's `claims` and `basis`)
    whose brief states each claim with a [n] marker backed by (corpus path, quote). Sources are
    numbered in first-use order, as the graph numbers them."""
    paths: list[str] = []
    sentences, backing = [], []
    for sentence, path, quote in claims:
        if path not in paths:
            paths.append(path)
        n = paths.index(path) + 1
        sentences.append(f"{sentence} [{n}].")
        backing.append({"url": corpus.by_path(path).url, "quote": quote, "text": sentence})
    sources = [
        {"url": corpus.by_path(p).url, "title": corpus.by_path(p).title, "domain": "corpus.infrence.test"}
        for p in paths
    ]
    brief = (
        "# Answer\n\n"
        + " ".join(sentences)
        + "\n\n## Sources\n"
        + "\n".join(f"[{i}] {s['title']} — {s['url']}" for i, s in enumerate(sources, start=1))
    )
    result = {
        "id": "00000000-0000-0000-0000-000000000001",
        "status": "succeeded",
        "question": "q",
        "brief": brief,
        "sources": sources,
        "claims": backing,
        "typed": typed
        if typed is not None
        else {"answer": " ".join(s for s, _, _ in claims), "key_findings": [], "open_questions": []},
        "basis": [],
        "stop_reason": "complete",
        "credits_charged": 15,
        "cost_usd": 0.031,
        "latency_ms": 21_000,
        "created_at": "2024-01-01T00:00:00Z",
        "usage": {"cost_usd": 0.031, "elapsed_secs": 21.0, "waves": 1, "searches": 3, "pages": 5},
    }
    result.update(overrides)
    return result


@pytest.fixture(scope="session")
def research_result(corpus):
    """`research_result(claims, typed=..., **overrides)`: see `build_research_result`."""
    return lambda claims, **kwargs: build_research_result(corpus, claims, **kwargs)


CONTENT_TYPES = {
    "html": "text/html; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
    "txt": "text/plain; charset=utf-8",
    "rst": "text/x-rst; charset=utf-8",
    "pdf": "application/pdf",
}


class CorpusWeb(FakeHTTPServer):
    """The shipped corpus as a small website over real HTTP: each file at `/<corpus path>`, with its
    real bytes and content type, so the reader fetches and extracts pages as it would on the web."""

    def __init__(self, corpus: Corpus) -> None:
        super().__init__()
        self.corpus = corpus
        self.route("GET", "*", self._page)

    def url_of(self, document: Document) -> str:
        return f"{self.url}/{document.path}"

    def search_documents(self) -> list[dict[str, str]]:
        """The corpus as the fake Tavily's index: pages it finds, the reader then fetches."""
        return [{"url": self.url_of(d), "title": d.title, "text": d.text} for d in self.corpus]

    def _page(self, request: Request) -> Response:
        document = self.corpus.by_path(request.path.lstrip("/"))
        if document is None:
            return Response(404, "not found", headers={"Content-Type": "text/plain"})
        return Response(
            200,
            (self.corpus.root / document.path).read_bytes(),
            headers={"Content-Type": CONTENT_TYPES[document.format]},
        )


@pytest.fixture
def corpus_web(corpus):
    with CorpusWeb(corpus) as web:
        yield web
