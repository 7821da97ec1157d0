"""Search providers: Tavily (web) and the local corpus. Both return the page text with the hit
when they have it, so a branch reads without refetching."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import httpx

from graph.providers.corpus import CorpusIndex, corpus_url
from graph.providers.netguard import tls_context

TAVILY_DEFAULT_BASE = "https://api.tavily.com"
TAVILY_TIMEOUT_SECS = 30.0


@dataclass(frozen=True)
class SearchResult:
    url: str
    title: str
    snippet: str
    score: float
    domain: str
    raw_content: str | None = None  # main text when the provider returned it


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


class TavilySearch:
    """Tavily through `AsyncTavilyClient`, asking for raw content so pages need no refetch."""

    name = "tavily"

    def __init__(
        self,
        api_key: str,
        api_base: str | None = None,
        *,
        depth: str = "basic",
        transport: httpx.AsyncBaseTransport | None = None,
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

    async def search(self, query: str, max_results: int) -> list[SearchResult]:
        answer = await self._client.search(
            query,
            search_depth=self.depth,
            max_results=max_results,
            include_raw_content="markdown",
            timeout=TAVILY_TIMEOUT_SECS,
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
                )
            )
        return results

    async def aclose(self) -> None:
        await self._http.aclose()


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
