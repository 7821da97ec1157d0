"""Vector search over collections: chunks are embedded by the outbox after ingestion (never in
the upload request), and the fused ranking finds a document that full text alone misses."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from api.collections.embeddings import embedder_for
from api.collections.search import CollectionSearch
from tests.accounts import open_account
from tests.collections.test_collections import _collection, _ingested, _upload
from tests.fakes.openai_server import FakeOpenAI

DOCUMENTS = {
    "clinic.md": "The physician examined every patient twice a week at the rural clinic.",
    "staff.md": "Our doctor rota is published on Mondays for the whole staff.",
    "budget.md": "The quarterly budget review covers rent, salaries and heating.",
}


@pytest.fixture
def embeddings():
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
async def embedding_app(settings, clean_storage, embeddings):
    from api.app import create_app

    configured = settings.model_copy(
        update={
            "embeddings_model": "fake-embed",
            "openai_api_key": embeddings.api_key,
            "openai_base_url": embeddings.base_url,
        }
    )
    application = create_app(configured)
    async with application.router.lifespan_context(application):
        yield application


async def _embedded(db, user_id) -> None:
    for _ in range(600):
        async with db.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT count(*) FILTER (WHERE embedding IS NULL) AS missing, count(*) AS chunks"
                    " FROM collection_chunks WHERE user_id = %s",
                    (user_id,),
                )
            ).fetchone()
        if row["chunks"] and not row["missing"]:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"chunks never embedded: {row}")


async def _account_with_documents(api, db, name: str) -> tuple:
    account = await open_account(api, db, credits=100)
    collection = await _collection(api, account, name)
    documents = {}
    for filename, text in DOCUMENTS.items():
        uploaded = await _upload(api, account, collection, filename, text.encode())
        assert uploaded["status"] == "processing"  # parsed and embedded later, not in the request
        documents[filename] = await _ingested(api, account, uploaded)
    await _embedded(db, account.user_id)
    return account, collection, documents


async def test_fused_ranking_finds_a_document_full_text_misses_and_only_the_owners(embedding_app, embeddings):
    db, settings = embedding_app.state.db, embedding_app.state.settings
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=embedding_app), base_url="http://t"
    ) as api:
        account, collection, documents = await _account_with_documents(api, db, "mine")
        _, other_collection, _ = await _account_with_documents(api, db, "theirs")
    embedded = [text for kind, inputs in embeddings.calls if kind == "embeddings" for text in inputs]
    assert set(DOCUMENTS.values()) <= set(embedded)

    full_text = await CollectionSearch(db, account.user_id, [collection]).search("doctor", 5)
    assert [hit.url for hit in full_text] == [documents["staff.md"]["source_id"]]

    fused = await CollectionSearch(db, account.user_id, [collection], embedder_for(settings)).search(
        "doctor", 5
    )
    ranked = [hit.url for hit in fused]
    assert ranked[:2] == [documents["staff.md"]["source_id"], documents["clinic.md"]["source_id"]]
    assert all(url.startswith(f"collection://{collection}/") for url in ranked)
    assert fused[1].raw_content == DOCUMENTS["clinic.md"]

    # Naming the other account's collection reads nothing of it, by words or by vectors.
    foreign = CollectionSearch(db, account.user_id, [other_collection], embedder_for(settings))
    assert await foreign.search("doctor", 5) == []
