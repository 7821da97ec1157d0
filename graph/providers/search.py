"""Search providers: Tavily (web) and the local corpus. Both return the page text with the hit
when they have it, so a branch reads without refetching."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from email.utils import parsedate_to_datetime
from typing import Any, Protocol, TypeVar

import httpx

from graph.policy import OPEN, SourcePolicy
from graph.providers.corpus import CorpusIndex, corpus_url
from graph.providers.netguard import tls_context
from graph.providers.text import printable

TAVILY_DEFAULT_BASE = "https://api.tavily.com"
TAVILY_TIMEOUT_SECS = 30.0
RRF_K = 60  # the usual reciprocal-rank-fusion constant
T = TypeVar("T")


@dataclass(frozen=True)
class SearchResult:
    url: str
    title: str
    snippet: str
    score: float
    domain: str
    raw_content: str | None = None  # main text when the provider returned it
    published: date | None = None  # publication date, when the provider knows it

    def __post_init__(self) -> None:
        """Control characters are dropped on the way in, whichever provider found it (see
        `printable`)."""
        for name in ("url", "title", "snippet", "raw_content"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, printable(value))


def published_date(value: Any) -> date | None:
    """A provider's publication date (ISO 8601 or RFC 2822, as Tavily's news results give), or
    None when absent or unreadable."""
    if not value or not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(value).date()
    except (TypeError, ValueError):
        return None


def domain_of(url: str) -> str:
    try:
        host = httpx.URL(url).host
    except Exception:
        return ""
    return host.removeprefix("www.")


class SearchProvider(Protocol):
    name: str  # key in the price table

    async def search(self, query: str, max_results: int) -> list[SearchResult]: ...

    async def aclose(self) -> None: ...


class SearchResults(list[SearchResult]):
    """Results with the parts of the search that failed without failing it (a connector that
    timed out, say): the branch records each as an error and goes on with what it got."""

    def __init__(self, results: Iterable[SearchResult] = (), failures: Iterable[str] = ()):
        super().__init__(results)
        self.failures = list(failures)


def failures_of(results: list[SearchResult]) -> list[str]:
    return list(getattr(results, "failures", ()))


def reciprocal_rank_fusion(
    rankings: Iterable[Sequence[T]], key: Callable[[T], Hashable]
) -> list[tuple[float, T]]:
    """Several rankings of the same kind of thing merged: each adds 1/(k + rank) to an item's
    score, so what several rank well wins without comparing their incomparable scores."""
    fused: dict[Hashable, tuple[float, T]] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking):
            score, first = fused.get(key(item), (0.0, item))
            fused[key(item)] = (score + 1 / (RRF_K + rank + 1), first)
    return sorted(fused.values(), key=lambda pair: pair[0], reverse=True)


class MergedSearch:
    """Several providers asked at once, their rankings fused (RRF); scores become the fused ones.
    Priced as the sum of its parts (`PriceTable.search` reads the `+`-joined name)."""

    def __init__(self, providers: list[SearchProvider]):
        self.providers = providers
        self.name = "+".join(p.name for p in providers)

    async def search(self, query: str, max_results: int) -> list[SearchResult]:
        async with asyncio.TaskGroup() as group:
            asked = [group.create_task(p.search(query, max_results)) for p in self.providers]
        rankings = [task.result() for task in asked]
        fused = reciprocal_rank_fusion(rankings, key=lambda result: result.url)[:max_results]
        return SearchResults(
            (dataclasses.replace(result, score=score) for score, result in fused),
            [failure for ranking in rankings for failure in failures_of(ranking)],
        )

    async def aclose(self) -> None:
        for provider in self.providers:
            await provider.aclose()


class TavilySearch:
    """Tavily through `AsyncTavilyClient`, asking for raw content so pages need no refetch, and
    passing the run's source policy as Tavily's domain and date filters (the wave still checks
    every result: a provider's filter is a hint, not a guarantee)."""

    name = "tavily"

    def __init__(
        self,
        api_key: str,
        api_base: str | None = None,
        *,
        depth: str = "basic",
        transport: httpx.AsyncBaseTransport | None = None,
        policy: SourcePolicy = OPEN,
    ):
        """`transport` replaces the default HTTPS one (evals put a cassette there)."""
        if not api_key:
            raise ValueError("TavilySearch needs an API key (the client would silently go keyless)")
        from tavily import AsyncTavilyClient

        base = (api_base or TAVILY_DEFAULT_BASE).rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=base, timeout=TAVILY_TIMEOUT_SECS, verify=tls_context(), transport=transport
        )
        self._client = AsyncTavilyClient(api_key=api_key, api_base_url=base, client=self._http)
        self.depth = depth
        self.filters = tavily_filters(policy)

    async def search(self, query: str, max_results: int) -> list[SearchResult]:
        answer = await self._client.search(
            query,
            search_depth=self.depth,
            max_results=max_results,
            include_raw_content="markdown",
            timeout=TAVILY_TIMEOUT_SECS,
            **self.filters,
        )
        results = []
        for item in answer.get("results") or ():
            url = item.get("url") or ""
            if not url:
                continue
            results.append(
                SearchResult(
                    url=url,
                    title=item.get("title") or domain_of(url),
                    snippet=item.get("content") or "",
                    score=float(item.get("score") or 0.0),
                    domain=domain_of(url),
                    raw_content=item.get("raw_content") or None,
                    published=published_date(item.get("published_date")),
                )
            )
        return results

    async def aclose(self) -> None:
        await self._http.aclose()


def tavily_filters(policy: SourcePolicy) -> dict[str, Any]:
    """Tavily's search parameters for a source policy (only those the policy sets)."""
    filters: dict[str, Any] = {}
    if policy.include_domains:
        filters["include_domains"] = list(policy.include_domains)
    if policy.exclude_domains:
        filters["exclude_domains"] = list(policy.exclude_domains)
    if policy.after_date:
        filters["start_date"] = policy.after_date.isoformat()
    if policy.before_date:
        filters["end_date"] = policy.before_date.isoformat()
    return filters


class CorpusSearch:
    """Full-text search over a local folder (see `CorpusIndex`); free, offline, deterministic."""

    name = "corpus"

    def __init__(self, index: CorpusIndex):
        self.index = index

    async def search(self, query: str, max_results: int) -> list[SearchResult]:
        hits = await self.index.asearch(query, max_results)
        return [
            SearchResult(
                url=corpus_url(hit.path),
                title=hit.title,
                snippet=hit.snippet,
                score=hit.score,
                domain="corpus",
                raw_content=hit.body,
            )
            for hit in hits
        ]

    async def aclose(self) -> None:
        return None
