"""The runtime context of a research run: budgets and providers, built from plain settings.

LangGraph does not checkpoint runtime context, so a resumed run must get a context again:
`build_context` is cheap and deterministic for the same settings and budgets.

    ctx = build_context(settings, budgets)    # GraphSettings, or a mapping/object with its fields
    try:
        await graph.ainvoke(..., context=ctx)
    finally:
        await ctx.aclose()
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langgraph.types import RetryPolicy

from graph.budget import ResearchBudgets
from graph.policy import OPEN, SourcePolicy
from graph.pricing import DEFAULT_PRICES, PriceTable
from graph.providers.corpus import CorpusIndex, index_path_for
from graph.providers.llm import OpenAIReasoner
from graph.providers.offline import OfflineReasoner
from graph.providers.pages import PageStore
from graph.providers.reader import PageReader
from graph.providers.reasoning import Reasoner
from graph.providers.retry import DEFAULT_RETRY
from graph.providers.search import CorpusSearch, SearchProvider, TavilySearch
from graph.settings import GraphSettings

BUILTIN_CORPUS = Path(__file__).resolve().parent / "corpus"


@dataclass
class ResearchContext:
    """What every node gets as `runtime.context`."""

    budgets: ResearchBudgets
    reasoner: Reasoner
    search: SearchProvider
    reader: PageReader
    pages: PageStore
    prices: PriceTable = DEFAULT_PRICES
    retry: RetryPolicy = DEFAULT_RETRY
    max_results_per_search: int = 6
    findings_per_page: int = 3
    # Which hosts and dates sources may come from; the reader and Tavily get it too.
    policy: SourcePolicy = OPEN
    # URLs a branch of this run has taken to read, so parallel siblings pick other results.
    # Only an optimisation: after a resume it starts empty, and `seen_urls` still guards waves.
    taken_urls: set[str] = field(default_factory=set)
    # What build_context was given to share (a worker's reasoner and page store serve all its
    # jobs): their giver closes them.
    borrowed: tuple[object, ...] = ()

    async def aclose(self) -> None:
        """Close the HTTP clients and files the context opened."""
        for closer in (self.reasoner, self.search, self.reader):
            if not self._borrowed(closer):
                await closer.aclose()
        if not self._borrowed(self.pages):
            self.pages.close()

    def _borrowed(self, part: object) -> bool:
        return any(part is given for given in self.borrowed)


def build_context(
    settings: Any,
    budgets: ResearchBudgets,
    *,
    prices: PriceTable | None = None,
    retry: RetryPolicy | None = None,
    reasoner: Reasoner | None = None,
    search: SearchProvider | None = None,
    page_store_path: Path | str | None = "default",
    pages: PageStore | None = None,
    policy: SourcePolicy = OPEN,
) -> ResearchContext:
    """A ResearchContext from plain settings: OpenAI when a key is set, else the offline reasoner;
    Tavily when a key is set, else the corpus (INFRENCE_CORPUS_DIR, or the small built-in one).
    A given `search` should carry the same `policy` (see `default_search`); a given `reasoner`
    or `pages` stays open when the context closes (its giver shares it).

    Nothing connects here; clients open on first use.
    """
    config = GraphSettings.from_any(settings)
    prices = prices or DEFAULT_PRICES
    retry = retry or DEFAULT_RETRY
    borrowed = tuple(part for part in (reasoner, pages) if part is not None)
    if reasoner is None:
        reasoner = build_reasoner(config, prices=prices, retry=retry)
    if search is None:
        search = default_search(config, policy)
    if pages is None:
        pages = page_store(config, page_store_path)
    return ResearchContext(
        budgets=budgets,
        reasoner=reasoner,
        search=search,
        reader=PageReader(allow_private=config.allow_private_urls, policy=policy),
        pages=pages,
        prices=prices,
        retry=retry,
        policy=policy,
        borrowed=borrowed,
    )


def page_store(settings: Any, path: Path | str | None = "default") -> PageStore:
    """The data dir's page file ("default"), another file, or memory (None)."""
    if path == "default":
        path = GraphSettings.from_any(settings).data_dir / "pages.sqlite"
    return PageStore(Path(path) if path else None)


def build_reasoner(
    settings: Any, *, prices: PriceTable = DEFAULT_PRICES, retry: RetryPolicy = DEFAULT_RETRY
) -> Reasoner:
    """OpenAI when a key is set, else the offline reasoner. It keeps no per-run state, so one
    can serve many runs (and keep its HTTP connections and chat models between them)."""
    config = GraphSettings.from_any(settings)
    if not config.openai_api_key:
        return OfflineReasoner()
    return OpenAIReasoner(
        api_key=config.openai_api_key,
        base_url=config.openai_base_url,
        models=config.models,
        prices=prices,
        retry=retry,
    )


def default_search(settings: Any, policy: SourcePolicy = OPEN) -> SearchProvider:
    """Tavily when a key is set (told the policy), else the corpus (INFRENCE_CORPUS_DIR, or the
    built-in one)."""
    config = GraphSettings.from_any(settings)
    if config.tavily_api_key:
        return TavilySearch(config.tavily_api_key, config.tavily_api_base, policy=policy)
    return corpus_search(config.corpus_dir, config.data_dir)


def corpus_search(corpus_dir: Path | None, data_dir: Path) -> CorpusSearch:
    folder = Path(corpus_dir) if corpus_dir else BUILTIN_CORPUS
    return CorpusSearch(_corpus_index(folder, index_path_for(folder, Path(data_dir))))


@functools.cache
def _corpus_index(folder: Path, index_path: Path) -> CorpusIndex:
    """One index per folder per process: its first search brings it up to date with the folder
    (a scan of every file), once per process rather than once per job."""
    return CorpusIndex(folder, index_path)
