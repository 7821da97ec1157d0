"""Record through a fake upstream that speaks real HTTP semantics, then replay offline."""

from __future__ import annotations

import asyncio
import gzip
import json
import random

import httpx
import pytest

from evals.cassette import Cassette, CassetteError, CassetteMiss, request_key


class CountingUpstream:
    """The 'real' provider: answers every call differently, so a replay that went live would show."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if request.url.path == "/binary":
            return httpx.Response(200, content=bytes(range(256)), headers={"content-type": "application/pdf"})
        if request.url.path == "/gzip":
            return httpx.Response(
                200,
                content=gzip.compress(b"compressed page text"),
                headers={"content-encoding": "gzip", "content-type": "text/html"},
            )
        body = json.loads(request.content) if request.content else {}
        return httpx.Response(
            200 if body.get("query") != "boom" else 429,
            json={"echo": body.get("query"), "call": self.calls, "path": request.url.path},
        )


def search(query: str, **extra) -> dict:
    return {"query": query, "api_key": "tvly-secret-123", "max_results": 5, **extra}


async def run_branches(client: httpx.AsyncClient, queries: list[str]) -> dict[str, dict]:
    """Parallel branches, as the research graph fans out."""

    async def one(query):
        await asyncio.sleep(random.random() / 100)
        response = await client.post("https://api.tavily.test/search", json=search(query))
        return query, {"status": response.status_code, **response.json()}

    return dict(await asyncio.gather(*(one(q) for q in queries)))


async def test_a_replay_reproduces_a_parallel_recording_in_any_order(tmp_path):
    path = tmp_path / "run.cassette.jsonl"
    upstream = CountingUpstream()
    queries = [f"tidal turbine {i}" for i in range(8)] + ["boom"]
    async with httpx.AsyncClient(
        transport=Cassette.record(path).transport(httpx.MockTransport(upstream))
    ) as client:
        recorded = await run_branches(client, queries)
    assert upstream.calls == 9 and recorded["boom"]["status"] == 429

    random.shuffle(queries)
    async with httpx.AsyncClient(transport=Cassette.replay(path).transport()) as client:
        replayed = await run_branches(client, queries)
    assert replayed == recorded
    assert upstream.calls == 9  # nothing went live


async def test_json_key_order_and_api_keys_do_not_change_the_match(tmp_path):
    path = tmp_path / "c.jsonl"
    async with httpx.AsyncClient(
        transport=Cassette.record(path).transport(httpx.MockTransport(CountingUpstream()))
    ) as c:
        await c.post("https://api.tavily.test/search", json=search("porpoises"))
        await c.get("https://maps.test/geo?q=Ostrel&key=AIza-secret")
    text = path.read_text()
    assert "tvly-secret-123" not in text and "AIza-secret" not in text
    stored_requests = [json.loads(line)["request"] for line in text.splitlines()]
    assert all("porpoises" not in json.dumps(r) for r in stored_requests)  # request bodies only as hashes

    reordered = json.dumps({"max_results": 5, "api_key": "another-key", "query": "porpoises"})
    async with httpx.AsyncClient(transport=Cassette.replay(path).transport()) as c:
        response = await c.post(
            "https://api.tavily.test/search", content=reordered, headers={"content-type": "application/json"}
        )
        assert response.json()["echo"] == "porpoises"
        assert (await c.get("https://maps.test/geo?key=other&q=Ostrel")).status_code == 200


async def test_identical_requests_get_their_responses_in_recorded_order(tmp_path):
    path = tmp_path / "c.jsonl"
    async with httpx.AsyncClient(
        transport=Cassette.record(path).transport(httpx.MockTransport(CountingUpstream()))
    ) as c:
        first = [
            (await c.post("https://llm.test/v1/chat", json={"query": "same"})).json()["call"]
            for _ in range(2)
        ]
    async with httpx.AsyncClient(transport=Cassette.replay(path).transport()) as c:
        again = [
            (await c.post("https://llm.test/v1/chat", json={"query": "same"})).json()["call"]
            for _ in range(3)
        ]
    assert first == [1, 2] and again == [1, 2, 2]


async def test_a_miss_names_the_request_and_what_was_recorded(tmp_path):
    path = tmp_path / "c.jsonl"
    async with httpx.AsyncClient(
        transport=Cassette.record(path).transport(httpx.MockTransport(CountingUpstream()))
    ) as c:
        await c.post("https://api.tavily.test/search", json=search("recorded"))
    async with httpx.AsyncClient(transport=Cassette.replay(path).transport()) as c:
        with pytest.raises(
            CassetteMiss, match=r"POST https://api.tavily.test/search body sha256=.*1 recording"
        ):
            await c.post("https://api.tavily.test/search", json=search("never recorded"))
        with pytest.raises(CassetteMiss, match="nothing was recorded for this URL"):
            await c.get("https://pages.test/unknown")


async def test_bodies_are_stored_decoded_and_binary_safe(tmp_path):
    path = tmp_path / "c.jsonl"
    async with httpx.AsyncClient(
        transport=Cassette.record(path).transport(httpx.MockTransport(CountingUpstream()))
    ) as c:
        live_pdf = (await c.get("https://pages.test/binary")).content
        live_page = (await c.get("https://pages.test/gzip")).text
    async with httpx.AsyncClient(transport=Cassette.replay(path).transport()) as c:
        assert (await c.get("https://pages.test/binary")).content == live_pdf == bytes(range(256))
        page = await c.get("https://pages.test/gzip")
        assert page.text == live_page == "compressed page text" and "content-encoding" not in page.headers


def test_sync_clients_record_and_replay_too(tmp_path):
    path = tmp_path / "c.jsonl"
    with httpx.Client(
        transport=Cassette.record(path).transport(httpx.MockTransport(CountingUpstream()))
    ) as c:
        live = c.post("https://llm.test/v1/chat", json={"query": "sync"}).json()
    with httpx.Client(transport=Cassette.replay(path).transport()) as c:
        assert c.post("https://llm.test/v1/chat", json={"query": "sync"}).json() == live


def test_a_corrupt_or_missing_cassette_fails_with_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"request": {"method": "GET"}}\n', encoding="utf-8")
    with pytest.raises(CassetteError, match=rf"{path}:1: malformed cassette entry"):
        Cassette.replay(path)
    with pytest.raises(CassetteError, match="cannot read cassette"):
        Cassette.replay(tmp_path / "missing.jsonl")
    with pytest.raises(ValueError, match="needs the real upstream"):
        Cassette.record(tmp_path / "x.jsonl").transport()


def test_the_request_key_ignores_query_order():
    a = request_key(httpx.Request("GET", "https://x.test/p?b=2&a=1"))
    b = request_key(httpx.Request("get", "https://X.test/p?a=1&b=2"))
    assert a == b and a.url == "https://x.test/p?a=1&b=2"
