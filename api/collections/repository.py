"""SQL of collections, their documents and chunks. Every query names the owner: no statement
reads another account's rows, whatever ids it is given."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import class_row

from api.collections.extract import Chunk
from core.db import Tx


@dataclass(frozen=True)
class CollectionRow:
    id: UUID
    user_id: UUID
    name: str
    created_at: datetime
    documents: int = 0


@dataclass(frozen=True)
class DocumentRow:
    id: UUID
    collection_id: UUID
    filename: str
    content_type: str
    url: str | None
    published_date: date | None
    status: str
    error: str | None
    size_bytes: int
    created_at: datetime
    ready_at: datetime | None


@dataclass(frozen=True)
class ChunkHit:
    document_id: UUID
    collection_id: UUID
    filename: str
    url: str | None
    content: str
    rank: float
    text: str
    published_date: date | None = None


_DOCUMENT_COLUMNS = (
    "id, collection_id, filename, content_type, url, published_date, status, error, size_bytes, "
    "created_at, ready_at"
)

INSERT_COLLECTION = """
INSERT INTO collections (user_id, name) VALUES (%(user_id)s, %(name)s)
RETURNING id, user_id, name, created_at"""

LIST_COLLECTIONS = """
SELECT c.id, c.user_id, c.name, c.created_at, count(d.id)::int AS documents
FROM collections c LEFT JOIN collection_documents d ON d.collection_id = c.id
WHERE c.user_id = %(user_id)s
GROUP BY c.id ORDER BY c.created_at DESC LIMIT %(limit)s OFFSET %(offset)s"""

GET_COLLECTION = """
SELECT c.id, c.user_id, c.name, c.created_at,
       (SELECT count(*)::int FROM collection_documents d WHERE d.collection_id = c.id) AS documents
FROM collections c WHERE c.id = %(id)s AND c.user_id = %(user_id)s"""

OWNED_COLLECTIONS = "SELECT id FROM collections WHERE user_id = %(user_id)s AND id = ANY(%(ids)s)"

DELETE_COLLECTION = "DELETE FROM collections WHERE id = %(id)s AND user_id = %(user_id)s RETURNING id"

USAGE = """
SELECT count(*)::int AS documents, coalesce(sum(size_bytes), 0)::bigint AS size_bytes
FROM collection_documents WHERE user_id = %(user_id)s"""

INSERT_DOCUMENT = f"""
INSERT INTO collection_documents
    (collection_id, user_id, filename, content_type, url, published_date, size_bytes, upload)
VALUES (%(collection_id)s, %(user_id)s, %(filename)s, %(content_type)s, %(url)s, %(published_date)s,
        %(size_bytes)s, %(upload)s)
RETURNING {_DOCUMENT_COLUMNS}"""

LIST_DOCUMENTS = f"""
SELECT {_DOCUMENT_COLUMNS} FROM collection_documents
WHERE collection_id = %(collection_id)s AND user_id = %(user_id)s
ORDER BY created_at DESC LIMIT %(limit)s OFFSET %(offset)s"""

GET_DOCUMENT = f"""
SELECT {_DOCUMENT_COLUMNS} FROM collection_documents
WHERE id = %(id)s AND collection_id = %(collection_id)s AND user_id = %(user_id)s"""

DOCUMENT_TEXT = """
SELECT text FROM collection_documents
WHERE id = %(id)s AND collection_id = %(collection_id)s AND user_id = %(user_id)s"""

DELETE_DOCUMENT = """
DELETE FROM collection_documents
WHERE id = %(id)s AND collection_id = %(collection_id)s AND user_id = %(user_id)s RETURNING id"""

UPLOAD_FOR_INGESTION = """
SELECT user_id, collection_id, content_type, upload FROM collection_documents
WHERE id = %(id)s AND status = 'processing' FOR UPDATE"""

MARK_READY = """
UPDATE collection_documents SET status = 'ready', text = %(text)s, upload = NULL, ready_at = now()
WHERE id = %(id)s"""

MARK_FAILED = """
UPDATE collection_documents SET status = 'failed', error = %(error)s, upload = NULL WHERE id = %(id)s"""

INSERT_CHUNK = """
INSERT INTO collection_chunks (document_id, seq, collection_id, user_id, start_offset, end_offset, content)
VALUES (%(document_id)s, %(seq)s, %(collection_id)s, %(user_id)s, %(start)s, %(end)s, %(content)s)"""

# Any of the query's terms (OR), ranked; the best chunk per document, best documents first.
SEARCH = """
WITH q AS (SELECT replace(plainto_tsquery('english', %(query)s)::text, '&', '|') AS terms),
hits AS (
    SELECT DISTINCT ON (c.document_id) c.document_id, c.collection_id, c.content,
           ts_rank(c.tsv, q.terms::tsquery) AS rank
    FROM collection_chunks c, q
    WHERE q.terms <> '' AND c.user_id = %(user_id)s AND c.collection_id = ANY(%(collections)s)
      AND c.tsv @@ q.terms::tsquery
    ORDER BY c.document_id, rank DESC
)
SELECT h.document_id, h.collection_id, d.filename, d.url, h.content, h.rank, d.text, d.published_date
FROM hits h JOIN collection_documents d ON d.id = h.document_id AND d.user_id = %(user_id)s
WHERE d.status = 'ready'
ORDER BY h.rank DESC, h.document_id LIMIT %(limit)s"""

# The nearest chunk per document by cosine distance to the query's embedding (pgvector), among
# the owner's chosen collections and chunks embedded by the same model; nearest documents first.
NEAREST = """
WITH hits AS (
    SELECT DISTINCT ON (c.document_id) c.document_id, c.collection_id, c.content,
           1 - (c.embedding::vector <=> %(embedding)s::real[]::vector) AS rank
    FROM collection_chunks c
    WHERE c.user_id = %(user_id)s AND c.collection_id = ANY(%(collections)s)
      AND c.embedding_model = %(model)s
    ORDER BY c.document_id, c.embedding::vector <=> %(embedding)s::real[]::vector
)
SELECT h.document_id, h.collection_id, d.filename, d.url, h.content, h.rank, d.text, d.published_date
FROM hits h JOIN collection_documents d ON d.id = h.document_id AND d.user_id = %(user_id)s
WHERE d.status = 'ready'
ORDER BY h.rank DESC, h.document_id LIMIT %(limit)s"""

HAS_PGVECTOR = "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector') AS present"

CHUNKS_TO_EMBED = """
SELECT seq, content FROM collection_chunks
WHERE document_id = %(document_id)s AND embedding_model IS DISTINCT FROM %(model)s ORDER BY seq"""

STORE_EMBEDDING = """
UPDATE collection_chunks SET embedding = %(embedding)s, embedding_model = %(model)s
WHERE document_id = %(document_id)s AND seq = %(seq)s"""


class CollectionRepository:
    async def insert(self, tx: Tx, user_id: UUID, name: str) -> CollectionRow:
        return await _one(tx, CollectionRow, INSERT_COLLECTION, {"user_id": user_id, "name": name})

    async def list(
        self, conn: AsyncConnection, user_id: UUID, limit: int, offset: int
    ) -> list[CollectionRow]:
        async with conn.cursor(row_factory=class_row(CollectionRow)) as cur:
            await cur.execute(LIST_COLLECTIONS, {"user_id": user_id, "limit": limit, "offset": offset})
            return await cur.fetchall()

    async def get(self, conn: AsyncConnection, user_id: UUID, collection_id: UUID) -> CollectionRow | None:
        return await _one(conn, CollectionRow, GET_COLLECTION, {"id": collection_id, "user_id": user_id})

    async def owned(self, conn: AsyncConnection, user_id: UUID, ids: list[UUID]) -> set[UUID]:
        cur = await conn.execute(OWNED_COLLECTIONS, {"user_id": user_id, "ids": ids})
        return {row["id"] for row in await cur.fetchall()}

    async def delete(self, conn: AsyncConnection, user_id: UUID, collection_id: UUID) -> bool:
        cur = await conn.execute(DELETE_COLLECTION, {"id": collection_id, "user_id": user_id})
        return await cur.fetchone() is not None

    async def usage(self, conn: AsyncConnection, user_id: UUID) -> tuple[int, int]:
        row = await (await conn.execute(USAGE, {"user_id": user_id})).fetchone()
        return row["documents"], row["size_bytes"]

    async def insert_document(self, tx: Tx, **values: object) -> DocumentRow:
        return await _one(tx, DocumentRow, INSERT_DOCUMENT, values)

    async def documents(
        self, conn: AsyncConnection, user_id: UUID, collection_id: UUID, limit: int, offset: int
    ) -> list[DocumentRow]:
        params = {"user_id": user_id, "collection_id": collection_id, "limit": limit, "offset": offset}
        async with conn.cursor(row_factory=class_row(DocumentRow)) as cur:
            await cur.execute(LIST_DOCUMENTS, params)
            return await cur.fetchall()

    async def document(
        self, conn: AsyncConnection, user_id: UUID, collection_id: UUID, document_id: UUID
    ) -> DocumentRow | None:
        params = {"id": document_id, "collection_id": collection_id, "user_id": user_id}
        return await _one(conn, DocumentRow, GET_DOCUMENT, params)

    async def document_text(
        self, conn: AsyncConnection, user_id: UUID, collection_id: UUID, document_id: UUID
    ) -> str | None:
        params = {"id": document_id, "collection_id": collection_id, "user_id": user_id}
        row = await (await conn.execute(DOCUMENT_TEXT, params)).fetchone()
        return row["text"] if row else None

    async def delete_document(
        self, conn: AsyncConnection, user_id: UUID, collection_id: UUID, document_id: UUID
    ) -> bool:
        params = {"id": document_id, "collection_id": collection_id, "user_id": user_id}
        return await (await conn.execute(DELETE_DOCUMENT, params)).fetchone() is not None

    async def upload_for_ingestion(self, tx: Tx, document_id: UUID) -> dict | None:
        return await (await tx.execute(UPLOAD_FOR_INGESTION, {"id": document_id})).fetchone()

    async def mark_ready(
        self, tx: Tx, document_id: UUID, text: str, chunks: list[Chunk], owner: dict
    ) -> None:
        async with tx.cursor() as cur:
            await cur.executemany(
                INSERT_CHUNK,
                [
                    {
                        "document_id": document_id,
                        "seq": chunk.seq,
                        "collection_id": owner["collection_id"],
                        "user_id": owner["user_id"],
                        "start": chunk.start,
                        "end": chunk.end,
                        "content": chunk.content,
                    }
                    for chunk in chunks
                ],
            )
        await tx.execute(MARK_READY, {"id": document_id, "text": text})

    async def mark_failed(self, tx: Tx, document_id: UUID, error: str) -> None:
        await tx.execute(MARK_FAILED, {"id": document_id, "error": error})

    async def search(
        self, conn: AsyncConnection, user_id: UUID, collections: list[UUID], query: str, limit: int
    ) -> list[ChunkHit]:
        params = {"user_id": user_id, "collections": collections, "query": query, "limit": limit}
        async with conn.cursor(row_factory=class_row(ChunkHit)) as cur:
            await cur.execute(SEARCH, params)
            return await cur.fetchall()

    async def nearest(
        self,
        conn: AsyncConnection,
        user_id: UUID,
        collections: list[UUID],
        embedding: list[float],
        model: str,
        limit: int,
    ) -> list[ChunkHit]:
        params = {
            "user_id": user_id,
            "collections": collections,
            "embedding": embedding,
            "model": model,
            "limit": limit,
        }
        async with conn.cursor(row_factory=class_row(ChunkHit)) as cur:
            await cur.execute(NEAREST, params)
            return await cur.fetchall()

    async def has_pgvector(self, conn: AsyncConnection) -> bool:
        return (await (await conn.execute(HAS_PGVECTOR)).fetchone())["present"]

    async def chunks_to_embed(
        self, conn: AsyncConnection, document_id: UUID, model: str
    ) -> list[tuple[int, str]]:
        cur = await conn.execute(CHUNKS_TO_EMBED, {"document_id": document_id, "model": model})
        return [(row["seq"], row["content"]) for row in await cur.fetchall()]

    async def store_embeddings(
        self, tx: Tx, document_id: UUID, model: str, embeddings: list[tuple[int, list[float]]]
    ) -> None:
        async with tx.cursor() as cur:
            await cur.executemany(
                STORE_EMBEDDING,
                [
                    {"document_id": document_id, "seq": seq, "model": model, "embedding": vector}
                    for seq, vector in embeddings
                ],
            )


async def _one(conn: AsyncConnection, row_type, query: str, params: dict):
    async with conn.cursor(row_factory=class_row(row_type)) as cur:
        await cur.execute(query, params)
        return await cur.fetchone()
