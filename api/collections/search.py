"""Collections as a search provider of the research graph: full-text search over the job
owner's chosen collections and, when an embeddings model is configured and PostgreSQL has
pgvector, nearest chunks by embedding, the two rankings fused by reciprocal rank fusion. Each
hit carries its document's whole stored text so quotes are slices of it."""

from __future__ import annotations

import asyncio
import logging
from uuid import UUID

from api.collections.embeddings import Embedder, say_pgvector_missing
from api.collections.repository import ChunkHit, CollectionRepository
from api.collections.service import source_id
from core.db import Database
from graph.providers.search import SearchResult, reciprocal_rank_fusion

log = logging.getLogger(__name__)

QUERY_EMBEDDING_TIMEOUT_SECS = 15.0


class CollectionSearch:
    name = "collection"

    def __init__(
        self, db: Database, user_id: UUID, collections: list[UUID], embedder: Embedder | None = None
    ):
        self.db = db
        self.user_id = user_id
        self.collections = collections
        self.embedder = embedder
        self.repo = CollectionRepository()
        self._pgvector: bool | None = None

    async def search(self, query: str, max_results: int) -> list[SearchResult]:
        async with self.db.connection() as conn:
            rankings = [await self.repo.search(conn, self.user_id, self.collections, query, max_results)]
            if self.embedder is not None and self._pgvector is None:
                self._pgvector = await self.repo.has_pgvector(conn)
                if not self._pgvector:
                    say_pgvector_missing()
        if self.embedder is not None and self._pgvector:
            rankings.append(await self._nearest(self.embedder, query, max_results))
        fused = reciprocal_rank_fusion(rankings, key=lambda hit: hit.document_id)[:max_results]
        return [self._result(hit, score) for score, hit in fused]

    async def _nearest(self, embedder: Embedder, query: str, limit: int) -> list[ChunkHit]:
        """Documents nearest the query's embedding; none (full text alone) if it cannot be had."""
        try:
            async with asyncio.timeout(QUERY_EMBEDDING_TIMEOUT_SECS):
                (embedding,) = await embedder.embed([query])
        except Exception as exc:
            log.warning("query embedding failed, full-text results only: %s", type(exc).__name__)
            return []
        async with self.db.connection() as conn:
            return await self.repo.nearest(
                conn, self.user_id, self.collections, embedding, embedder.model, limit
            )

    @staticmethod
    def _result(hit: ChunkHit, score: float) -> SearchResult:
        return SearchResult(
            url=source_id(hit.collection_id, hit.document_id),
            title=hit.filename,
            snippet=hit.content[:300],
            score=score,
            domain="collection",
            raw_content=hit.text,
            published=hit.published_date,
        )

    async def aclose(self) -> None:
        if self.embedder is not None:
            await self.embedder.aclose()
