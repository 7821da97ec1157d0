"""Embeddings for vector search over collections: chunks are embedded by the outbox relay after
ingestion (durable, retried, never in the upload request); a query is embedded when a research
branch searches. Optional twice over: without INFRENCE_EMBEDDINGS_MODEL nothing is embedded,
and on a PostgreSQL without pgvector search stays full-text (said once in the log)."""

from __future__ import annotations

import logging

from openai import AsyncOpenAI

from core.settings import Settings

log = logging.getLogger(__name__)

EMBED_TASK = "collection.embed"
BATCH = 64  # inputs per embeddings request
TIMEOUT_SECS = 30.0

_said_missing = False


class Embedder:
    """The embeddings endpoint of the OpenAI-compatible server the reasoner uses."""

    def __init__(self, settings: Settings):
        self.model = settings.embeddings_model or ""
        self._client = AsyncOpenAI(
            api_key=settings.openai_api_key or "unused",  # local servers (vLLM, Ollama) need none
            base_url=settings.openai_base_url,
            timeout=TIMEOUT_SECS,
            max_retries=2,
        )

    async def embed(self, texts: list[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), BATCH):
            answer = await self._client.embeddings.create(
                model=self.model, input=texts[start : start + BATCH], encoding_format="float"
            )
            vectors.extend(item.embedding for item in sorted(answer.data, key=lambda item: item.index))
        return vectors

    async def aclose(self) -> None:
        await self._client.close()


def embedder_for(settings: Settings) -> Embedder | None:
    return Embedder(settings) if settings.embeddings_model else None


def say_pgvector_missing() -> None:
    """One log line per process: embeddings are configured but the database cannot use them."""
    global _said_missing
    if not _said_missing:
        _said_missing = True
        log.warning(
            "INFRENCE_EMBEDDINGS_MODEL is set but PostgreSQL has no pgvector extension: "
            "collection search is full-text only (CREATE EXTENSION vector to enable it)"
        )
