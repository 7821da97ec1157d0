"""Collections as a search provider of the research graph: full-text search over the job
owner's chosen collections, each hit carrying its document's whole stored text so quotes are
slices of it. Optionally merged with web search by reciprocal rank fusion."""

from __future__ import annotations

from uuid import UUID

from api.collections.repository import CollectionRepository
from api.collections.service import source_id
from core.db import Database
from graph.providers.search import SearchProvider, SearchResult

RRF_K = 60  # the usual reciprocal-rank-fusion constant


class CollectionSearch:
    name = "collection"

    def __init__(self, db: Database, user_id: UUID, collections: list[UUID]):
        self.db = db
        self.user_id = user_id
        self.collections = collections
        self.repo = CollectionRepository()

    async def search(self, query: str, max_results: int) -> list[SearchResult]:
        async with self.db.connection() as conn:
            hits = await self.repo.search(conn, self.user_id, self.collections, query, max_results)
        return [
            SearchResult(
                url=source_id(hit.collection_id, hit.document_id),
                title=hit.filename,
                snippet=hit.content[:300],
                score=float(hit.rank),
                domain="collection",
                raw_content=hit.text,
            )
            for hit in hits
        ]

    async def aclose(self) -> None:
        return None


class MergedSearch:
    """Several providers asked at once, their rankings fused (RRF). Priced as its dearest part:
    the price table does not know the merged name, and an unknown provider costs the most."""

    def __init__(self, providers: list[SearchProvider]):
        self.providers = providers
        self.name = "+".join(p.name for p in providers)

    async def search(self, query: str, max_results: int) -> list[SearchResult]:
        fused: dict[str, tuple[float, SearchResult]] = {}
        for provider in self.providers:
            for rank, result in enumerate(await provider.search(query, max_results)):
                score, _ = fused.get(result.url, (0.0, result))
                fused[result.url] = (score + 1 / (RRF_K + rank + 1), result)
        ranked = sorted(fused.values(), key=lambda pair: pair[0], reverse=True)
        return [result for _, result in ranked[:max_results]]

    async def aclose(self) -> None:
        for provider in self.providers:
            await provider.aclose()
