"""The runtime context of a research run: budgets and providers, built from plain settings.

LangGraph does not checkpoint runtime context, so a resumed run must get a context again:
`build_context` is cheap and deterministic for the same settings and budgets.

    ctx = build_context(settings, budgets)          # any object with the attributes below
    try:
        await graph.ainvoke(..., context=ctx)
    finally:
        await ctx.aclose()
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langgraph.types import RetryPolicy

from graph.budget import ResearchBudgets
from graph.pricing import DEFAULT_PRICES, PriceTable
from graph.providers.corpus import CorpusIndex, index_path_for
from graph.providers.llm import ModelChoice, OpenAIReasoner
from graph.providers.offline import OfflineReasoner
from graph.providers.pages import PageStore
from graph.providers.reader import PageReader
from graph.providers.reasoning import Reasoner
from graph.providers.retry import DEFAULT_RETRY
from graph.providers.search import CorpusSearch, SearchProvider, TavilySearch

BUILTIN_CORPUS = Path(__file__).resolve().parent / "corpus"
DEFAULT_MODEL = "gpt-4.1-mini"
# Per-stage model settings: attribute name -> environment variable.
MODEL_SETTINGS = {
    "model_planner": "INFRENCE_MODEL_PLANNER",
    "model_extractor": "INFRENCE_MODEL_EXTRACTOR",
    "model_writer": "INFRENCE_MODEL_WRITER",
    "model_critic": "INFRENCE_MODEL_CRITIC",
    "model_caster": "INFRENCE_MODEL_CASTER",
}
ENV_NAMES = {
    "openai_api_key": "OPENAI_API_KEY",
    "openai_base_url": "OPENAI_BASE_URL",
    "tavily_api_key": "TAVILY_API_KEY",
    "tavily_api_base": "TAVILY_API_BASE",
    "corpus_dir": "INFRENCE_CORPUS_DIR",
    "data_dir": "INFRENCE_DATA_DIR",
    "allow_private_urls": "INFRENCE_ALLOW_PRIVATE_URLS",
    **MODEL_SETTINGS,
}


@dataclass(frozen=True)
class ProviderSettings:
    """The provider configuration the graph needs, as plain values."""

    openai_api_key: str | None = None
    openai_base_url: str | None = None
    tavily_api_key: str | None = None
    tavily_api_base: str | None = None
    corpus_dir: Path | None = None
    data_dir: Path = Path(".infrence")
    allow_private_urls: bool = False
    model_planner: str = DEFAULT_MODEL
    model_extractor: str = DEFAULT_MODEL
    model_writer: str = DEFAULT_MODEL
    model_critic: str = DEFAULT_MODEL
    model_caster: str = DEFAULT_MODEL

    @classmethod
    def from_any(cls, source: Any) -> ProviderSettings:
        """From a settings object (attributes) or a mapping; missing or None values keep defaults."""
        if isinstance(source, ProviderSettings):
            return source
        get = (
            source.get
            if isinstance(source, Mapping)
            else lambda key, default=None: getattr(source, key, default)
        )
        values = {}
        for name in cls.__dataclass_fields__:
            value = get(name, None)
            if value is None or value == "":
                continue
            if name in ("corpus_dir", "data_dir"):
                value = Path(value)
            if name == "allow_private_urls":
                value = value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")
            values[name] = value
        return cls(**values)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ProviderSettings:
        environ = os.environ if environ is None else environ
        return cls.from_any({attr: environ.get(env) for attr, env in ENV_NAMES.items()})

    @property
    def models(self) -> ModelChoice:
        return ModelChoice(
            self.model_planner, self.model_extractor, self.model_writer, self.model_critic, self.model_caster
        )


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
    # URLs a branch of this run has taken to read, so parallel siblings pick other results.
    # Only an optimisation: after a resume it starts empty, and `seen_urls` still guards waves.
    taken_urls: set[str] = field(default_factory=set)

    async def aclose(self) -> None:
        """Close the HTTP clients and files the context opened."""
        for closer in (self.reasoner, self.search, self.reader):
            await closer.aclose()
        self.pages.close()


def build_context(
    settings: Any,
    budgets: ResearchBudgets,
    *,
    prices: PriceTable | None = None,
    retry: RetryPolicy | None = None,
    reasoner: Reasoner | None = None,
    search: SearchProvider | None = None,
    page_store_path: Path | str | None = "default",
) -> ResearchContext:
    """A ResearchContext from plain settings: OpenAI when a key is set, else the offline reasoner;
    Tavily when a key is set, else the corpus (INFRENCE_CORPUS_DIR, or the small built-in one).

    Nothing connects here; clients open on first use.
    """
    config = ProviderSettings.from_any(settings)
    prices = prices or DEFAULT_PRICES
    retry = retry or DEFAULT_RETRY
    if reasoner is None:
        reasoner = (
            OpenAIReasoner(
                api_key=config.openai_api_key,
                base_url=config.openai_base_url,
                models=config.models,
                prices=prices,
                retry=retry,
            )
            if config.openai_api_key
            else OfflineReasoner()
        )
    if search is None:
        search = (
            TavilySearch(config.tavily_api_key, config.tavily_api_base)
            if config.tavily_api_key
            else corpus_search(config.corpus_dir, config.data_dir)
        )
    if page_store_path == "default":
        page_store_path = config.data_dir / "pages.sqlite"
    return ResearchContext(
        budgets=budgets,
        reasoner=reasoner,
        search=search,
        reader=PageReader(allow_private=config.allow_private_urls),
        pages=PageStore(Path(page_store_path) if page_store_path else None),
        prices=prices,
        retry=retry,
    )


def corpus_search(corpus_dir: Path | None, data_dir: Path) -> CorpusSearch:
    folder = Path(corpus_dir) if corpus_dir else BUILTIN_CORPUS
    return CorpusSearch(CorpusIndex(folder, index_path_for(folder, Path(data_dir))))
