"""Collections: the rules (ownership, quotas, formats) and the transactions. A document is
stored with its file and ingested by the outbox relay (parse, chunk, index), not in the
request, so a large PDF never holds an HTTP worker and a crash loses nothing."""

from __future__ import annotations

import logging
from datetime import date
from uuid import UUID

from api.collections.embeddings import EMBED_TASK, embedder_for, say_pgvector_missing
from api.collections.extract import UnreadableDocument, chunks_of, content_type_for, extract_text
from api.collections.repository import CollectionRepository, CollectionRow, DocumentRow
from core import outbox
from core.db import Database
from core.errors import DomainError, InvalidRequest, NotFound, PayloadTooLarge
from core.settings import Settings

log = logging.getLogger(__name__)

INGEST_TASK = "collection.ingest"


class QuotaExceeded(DomainError):
    status_code = 413
    code = "collection_quota_exceeded"


def source_id(collection_id: UUID, document_id: UUID) -> str:
    return f"collection://{collection_id}/{document_id}"


class CollectionService:
    def __init__(self, db: Database, settings: Settings):
        self.db = db
        self.settings = settings
        self.repo = CollectionRepository()

    async def create(self, user_id: UUID, name: str) -> CollectionRow:
        async with self.db.transaction() as tx:
            return await self.repo.insert(tx, user_id, name.strip() or name)

    async def list(self, user_id: UUID, *, limit: int, offset: int) -> list[CollectionRow]:
        async with self.db.connection() as conn:
            return await self.repo.list(conn, user_id, limit, offset)

    async def get(self, user_id: UUID, collection_id: UUID) -> CollectionRow:
        async with self.db.connection() as conn:
            found = await self.repo.get(conn, user_id, collection_id)
        if found is None:
            raise NotFound("No such collection")
        return found

    async def delete(self, user_id: UUID, collection_id: UUID) -> None:
        async with self.db.connection() as conn:
            if not await self.repo.delete(conn, user_id, collection_id):
                raise NotFound("No such collection")

    async def check_owned(self, user_id: UUID, collection_ids: list[UUID]) -> None:
        """Research may name only the caller's collections; any other id is simply not found."""
        if not collection_ids:
            return
        async with self.db.connection() as conn:
            owned = await self.repo.owned(conn, user_id, collection_ids)
        missing = [str(c) for c in collection_ids if c not in owned]
        if missing:
            raise NotFound(f"No such collection: {', '.join(missing)}", field="collections")

    async def add_document(
        self,
        user_id: UUID,
        collection_id: UUID,
        *,
        filename: str,
        declared_type: str | None,
        data: bytes,
        url: str | None,
        published_date: date | None,
    ) -> DocumentRow:
        limits = self.settings
        if len(data) > limits.collection_max_file_bytes:
            raise PayloadTooLarge(f"file: larger than {limits.collection_max_file_bytes} bytes")
        if not data:
            raise InvalidRequest("file: the file is empty", field="file")
        try:
            content_type = content_type_for(filename, declared_type)
        except UnreadableDocument as exc:
            raise InvalidRequest(f"file: {exc}", field="file") from None
        async with self.db.transaction() as tx:
            if await self.repo.get(tx, user_id, collection_id) is None:
                raise NotFound("No such collection")
            documents, size_bytes = await self.repo.usage(tx, user_id)
            if documents >= limits.collection_max_documents:
                raise QuotaExceeded(f"an account keeps at most {limits.collection_max_documents} documents")
            if size_bytes + len(data) > limits.collection_max_bytes:
                raise QuotaExceeded(f"an account keeps at most {limits.collection_max_bytes} bytes of files")
            document = await self.repo.insert_document(
                tx,
                collection_id=collection_id,
                user_id=user_id,
                filename=filename[:255] or "document",
                content_type=content_type,
                url=url,
                published_date=published_date,
                size_bytes=len(data),
                upload=data,
            )
            await outbox.enqueue(
                tx, INGEST_TASK, {"document_id": str(document.id)}, key=f"ingest:{document.id}"
            )
        return document

    async def documents(
        self, user_id: UUID, collection_id: UUID, *, limit: int, offset: int
    ) -> list[DocumentRow]:
        await self.get(user_id, collection_id)
        async with self.db.connection() as conn:
            return await self.repo.documents(conn, user_id, collection_id, limit, offset)

    async def document(
        self, user_id: UUID, collection_id: UUID, document_id: UUID
    ) -> tuple[DocumentRow, str | None]:
        async with self.db.connection() as conn:
            found = await self.repo.document(conn, user_id, collection_id, document_id)
            if found is None:
                raise NotFound("No such document")
            return found, await self.repo.document_text(conn, user_id, collection_id, document_id)

    async def delete_document(self, user_id: UUID, collection_id: UUID, document_id: UUID) -> None:
        async with self.db.connection() as conn:
            if not await self.repo.delete_document(conn, user_id, collection_id, document_id):
                raise NotFound("No such document")

    async def ingest(self, payload: dict) -> None:
        """Outbox handler: parse, chunk and index one document. Idempotent: a document already
        ingested (or deleted) is left alone; an unreadable file ends `failed` with the reason."""
        document_id = UUID(payload["document_id"])
        async with self.db.transaction() as tx:
            row = await self.repo.upload_for_ingestion(tx, document_id)
            if row is None:
                return
            try:
                text = extract_text(
                    row["upload"], row["content_type"], max_pdf_pages=self.settings.collection_max_pdf_pages
                )
            except UnreadableDocument as exc:
                await self.repo.mark_failed(tx, document_id, str(exc))
                return
            except Exception as exc:  # a parser bug must not poison the queue: the owner sees it
                log.warning("document %s could not be parsed: %s", document_id, type(exc).__name__)
                await self.repo.mark_failed(
                    tx, document_id, f"the file could not be parsed ({type(exc).__name__})"
                )
                return
            await self.repo.mark_ready(tx, document_id, text, chunks_of(text), row)
            if self.settings.embeddings_model:
                await outbox.enqueue(
                    tx, EMBED_TASK, {"document_id": str(document_id)}, key=f"embed:{document_id}"
                )

    async def embed(self, payload: dict) -> None:
        """Outbox handler: embed a ready document's chunks for vector search. Idempotent (only
        chunks not yet embedded by the current model are sent); an endpoint failure raises, so
        the relay retries with backoff; a deleted document has no chunks left to embed."""
        embedder = embedder_for(self.settings)
        if embedder is None:
            return
        document_id = UUID(payload["document_id"])
        try:
            async with self.db.connection() as conn:
                if not await self.repo.has_pgvector(conn):
                    say_pgvector_missing()
                    return
                chunks = await self.repo.chunks_to_embed(conn, document_id, embedder.model)
            if not chunks:
                return
            vectors = await embedder.embed([content for _, content in chunks])
        finally:
            await embedder.aclose()
        async with self.db.transaction() as tx:
            await self.repo.store_embeddings(
                tx,
                document_id,
                embedder.model,
                [(seq, vector) for (seq, _), vector in zip(chunks, vectors, strict=True)],
            )

    def register(self, registry: outbox.OutboxRegistry) -> None:
        registry.register(INGEST_TASK, self.ingest)
        registry.register(EMBED_TASK, self.embed)
