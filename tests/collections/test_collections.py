"""Collections through the front door: upload, background ingestion, research restricted to an
account's own documents, isolation between accounts, deletion, and refused files."""

from __future__ import annotations

import asyncio
import io
import zipfile

import pytest

from tests.accounts import open_account
from tests.conftest import REPO

PDF = (REPO / "tests/graph/corpus/hydrogen.pdf").read_bytes()
NOTES = {
    "a": "Project notes. The secret project codename is BLUEFIN. The launch review happens in March.",
    "b": "Project notes. The secret project codename is REDWOOD. The launch review happens in June.",
}
QUESTION = "What is the secret project codename and when is the launch review?"


async def _collection(api, account, name: str) -> str:
    created = await api.post("/v1/collections", headers=account.key, json={"name": name})
    assert created.status_code == 201, created.text
    return created.json()["id"]


async def _upload(api, account, collection: str, filename: str, data: bytes, **form) -> dict:
    answer = await api.post(
        f"/v1/collections/{collection}/documents",
        headers=account.key,
        files={"file": (filename, data)},
        data=form,
    )
    assert answer.status_code == 202, answer.text
    return answer.json()


async def _ingested(api, account, document: dict) -> dict:
    url = f"/v1/collections/{document['collection_id']}/documents/{document['id']}"
    for _ in range(300):
        current = (await api.get(url, headers=account.key)).json()
        if current["status"] != "processing":
            return current
        await asyncio.sleep(0.1)
    raise AssertionError(f"never ingested: {current}")


async def _research(api, account, **body) -> dict:
    answer = await api.post(
        "/v1/research", headers=account.key, json={"question": QUESTION, "mode": "lite", **body}
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.fixture
async def two_accounts(api, research_app):
    accounts = {}
    for name in NOTES:
        account = await open_account(api, research_app.state.db, credits=1000)
        collection = await _collection(api, account, f"{name}'s files")
        pdf = await _upload(api, account, collection, "hydrogen.pdf", PDF, published_date="2024-05-01")
        note = await _upload(api, account, collection, "notes.md", NOTES[name].encode())
        accounts[name] = (
            account,
            collection,
            await _ingested(api, account, pdf),
            await _ingested(api, account, note),
        )
    return accounts


async def test_each_account_researches_only_its_own_documents(api, two_accounts):
    for name, (account, collection, pdf, note) in two_accounts.items():
        assert pdf["status"] == "ready" and note["status"] == "ready", (pdf, note)
        assert note["text"] == NOTES[name]
        result = await _research(api, account, collections=[collection], web=False)
        assert result["status"] == "succeeded", result
        cited = {source["url"] for source in result["sources"]}
        own = {pdf["source_id"], note["source_id"]}
        assert cited and cited <= own, (cited, own)
        assert note["source_id"] in cited
        other = "REDWOOD" if name == "a" else "BLUEFIN"
        assert other not in (result["brief"] or "")


async def test_another_accounts_collection_is_not_found(api, two_accounts):
    (account_a, _, _, _), (_, collection_b, _, _) = two_accounts["a"], two_accounts["b"]
    refused = await api.post(
        "/v1/research",
        headers=account_a.key,
        json={"question": QUESTION, "mode": "lite", "collections": [collection_b], "web": False},
    )
    assert refused.status_code == 404
    assert (await api.get(f"/v1/collections/{collection_b}", headers=account_a.key)).status_code == 404
    listing = await api.get(f"/v1/collections/{collection_b}/documents", headers=account_a.key)
    assert listing.status_code == 404


async def test_quotes_are_slices_of_the_extracted_text_and_a_deleted_document_is_never_cited(
    api, two_accounts
):
    account, collection, pdf, note = two_accounts["a"]
    result = await _research(api, account, collections=[collection], web=False)
    texts = {pdf["source_id"]: pdf["text"], note["source_id"]: note["text"]}
    citations = [c for entry in result["basis"] for c in entry["citations"]]
    assert citations and {c["url"] for c in citations} <= set(texts)
    for citation in citations:  # every quote is a slice of the text the document was read as
        assert citation["quote"] in texts[citation["url"]], citation
    for source in result["sources"]:
        if source.get("summary"):
            assert (
                source["summary"] in texts[source["url"]]
                or source["summary"].rstrip("…") in texts[source["url"]]
            )
    deleted = await api.delete(f"/v1/collections/{collection}/documents/{note['id']}", headers=account.key)
    assert deleted.status_code == 204
    again = await _research(api, account, collections=[collection], web=False)
    assert note["source_id"] not in {source["url"] for source in again["sources"]}


async def test_unreadable_unsupported_and_oversized_files_are_refused_clearly(api, research_app, settings):
    account = await open_account(api, research_app.state.db, credits=100)
    collection = await _collection(api, account, "odd files")
    broken = await _ingested(
        api, account, await _upload(api, account, collection, "broken.pdf", b"%PDF-1.4 junk")
    )
    assert broken["status"] == "failed" and "PDF" in broken["error"]
    docx = io.BytesIO()
    with zipfile.ZipFile(docx, "w") as archive:
        archive.writestr(
            "word/document.xml",
            '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
            "<w:body><w:p><w:r><w:t>Heat pumps move heat.</w:t></w:r></w:p></w:body></w:document>",
        )
    word = await _ingested(
        api, account, await _upload(api, account, collection, "memo.docx", docx.getvalue())
    )
    assert word["status"] == "ready" and word["text"] == "Heat pumps move heat."

    unsupported = await api.post(
        f"/v1/collections/{collection}/documents", headers=account.key, files={"file": ("x.exe", b"MZ")}
    )
    assert unsupported.status_code == 400 and unsupported.json()["errors"][0]["field"] == "file"
    too_big = settings.collection_max_file_bytes + 1
    oversized = await api.post(
        f"/v1/collections/{collection}/documents",
        headers=account.key,
        files={"file": ("big.txt", b"x" * too_big)},
    )
    assert oversized.status_code == 413


async def test_a_date_policy_judges_collection_documents_by_their_recorded_date(api, research_app):
    account = await open_account(api, research_app.state.db, credits=1000)
    collection = await _collection(api, account, "dated notes")
    old = await _upload(api, account, collection, "old.md", NOTES["a"].encode(), published_date="2019-02-01")
    new = await _upload(api, account, collection, "new.md", NOTES["b"].encode(), published_date="2025-02-01")
    undated = await _upload(api, account, collection, "undated.md", b"Meeting minutes about the weather.")
    for document in (old, new, undated):
        assert (await _ingested(api, account, document))["status"] == "ready"

    result = await _research(
        api, account, collections=[collection], web=False, source_policy={"after_date": "2024-01-01"}
    )

    cited = {source["url"] for source in result["sources"]}
    assert new["source_id"] in cited and old["source_id"] not in cited
    assert "BLUEFIN" not in result["brief"] and "REDWOOD" in result["brief"]
