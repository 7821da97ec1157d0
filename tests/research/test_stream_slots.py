"""Open SSE streams and long-polls are capped per user (INFRENCE_MAX_STREAMS_PER_USER), counted
in Redis with a lapse time so a crashed process cannot keep slots forever."""

from __future__ import annotations

import asyncio

import pytest

from core.stream_slots import SLOT_TTL_SECS, StreamSlots, TooManyStreams
from tests.accounts import open_account
from tests.clock import PinnedClock
from tests.research.conftest import submit_async_job


async def test_past_the_cap_streams_and_long_polls_get_429_until_one_ends(app, idle_api):
    app.state.settings = app.state.settings.model_copy(update={"max_streams_per_user": 2})
    account = await open_account(idle_api, app.state.db)
    other = await open_account(idle_api, app.state.db)
    job_id = await submit_async_job(idle_api, account, "What is a queue?")
    status_url = f"/v1/research/{job_id}"
    polls = [
        asyncio.create_task(idle_api.get(status_url, params={"wait": 50}, headers=account.key))
        for _ in range(2)
    ]
    slots_key = f"streams:user:{account.user_id}"
    for _ in range(200):
        if await app.state.redis.zcard(slots_key) == 2:
            break
        await asyncio.sleep(0.05)
    assert await app.state.redis.zcard(slots_key) == 2

    for refused in (
        await idle_api.get(status_url, params={"wait": 5}, headers=account.key),
        await idle_api.get(f"{status_url}/events", headers=account.key),
    ):
        assert refused.status_code == 429 and refused.json()["code"] == "too_many_streams"
        assert "Retry-After" in refused.headers
    assert (await idle_api.get(status_url, headers=account.key)).status_code == 200  # no wait: no slot
    other_job_id = await submit_async_job(idle_api, other, "What is a queue?")
    assert (
        await idle_api.get(f"/v1/research/{other_job_id}", params={"wait": 1}, headers=other.key)
    ).status_code == 200

    assert (await idle_api.delete(status_url, headers=account.key)).status_code == 200  # the polls end
    assert [p.status_code for p in await asyncio.gather(*polls)] == [200, 200]
    assert await app.state.redis.zcard(slots_key) == 0
    events = await idle_api.get(f"{status_url}/events", headers=account.key)  # terminal: replays and ends
    assert events.status_code == 200 and "job.canceled" in events.text
    assert await app.state.redis.zcard(slots_key) == 0


async def test_slots_of_a_process_that_died_lapse_on_their_own(app):
    clock = PinnedClock()
    slots = StreamSlots(app.state.redis, limit=1, clock=clock)
    await slots.acquire("u1")  # never released: its process "crashed"
    with pytest.raises(TooManyStreams):
        await slots.acquire("u1")
    clock.now += SLOT_TTL_SECS + 1
    held = await slots.acquire("u1")
    await held.release()
    assert await app.state.redis.zcard("streams:user:u1") == 0


async def mcp_call(api, account, tool: str, arguments: dict) -> dict:
    """One JSON-RPC tools/call on the stateless MCP endpoint; the tool's result object."""
    response = await api.post(
        "/mcp",
        headers={**account.key, "Accept": "application/json, text/event-stream"},
        json={
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": tool, "arguments": arguments},
        },
    )
    assert response.status_code == 200, response.text
    return response.json()["result"]


async def test_chat_completions_and_mcp_waits_take_slots_too(app, idle_api):
    app.state.settings = app.state.settings.model_copy(update={"max_streams_per_user": 2})
    account = await open_account(idle_api, app.state.db)
    chat = {"model": "infrence-lite", "messages": [{"role": "user", "content": "What is a queue?"}]}
    job_id = await submit_async_job(idle_api, account, "What is a queue?")
    slots_key = f"streams:user:{account.user_id}"

    async def slots_held(n: int) -> None:
        for _ in range(400):
            if await app.state.redis.zcard(slots_key) == n:
                return
            await asyncio.sleep(0.05)
        assert await app.state.redis.zcard(slots_key) == n

    streaming = asyncio.create_task(
        idle_api.post("/v1/chat/completions", headers=account.key, json={**chat, "stream": True})
    )
    await slots_held(1)
    for _ in range(400):  # the slot is taken first, then the stream's job is created
        if await _jobs_of(app, account) == 2:
            break
        await asyncio.sleep(0.05)
    waiting = asyncio.create_task(
        mcp_call(idle_api, account, "get_research", {"job_id": job_id, "wait_secs": 50})
    )
    await slots_held(2)

    jobs_before = await _jobs_of(app, account)
    assert jobs_before == 2
    for refused in (
        await idle_api.post("/v1/chat/completions", headers=account.key, json=chat),
        await idle_api.post("/v1/chat/completions", headers=account.key, json={**chat, "stream": True}),
    ):
        assert refused.status_code == 429 and refused.json()["code"] == "too_many_streams"
    assert await _jobs_of(app, account) == jobs_before  # refused before any job was created
    tool = await mcp_call(
        idle_api, account, "research", {"question": "What is a stack?", "mode": "lite", "wait_secs": 30}
    )
    assert tool["isError"] and "too_many_streams: Too many open streams" in tool["content"][0]["text"]
    assert await _jobs_of(app, account) == jobs_before
    assert not (await mcp_call(idle_api, account, "get_research", {"job_id": job_id}))["isError"]

    for job_id in await _job_ids(app, account):  # every job ends: the stream and the wait return
        await idle_api.delete(f"/v1/research/{job_id}", headers=account.key)
    assert (await streaming).status_code == 200
    assert not (await waiting)["isError"]
    await slots_held(0)


async def _job_ids(app, account) -> list:
    async with app.state.db.connection() as conn:
        cur = await conn.execute("SELECT id FROM research_jobs WHERE user_id = %s", (account.user_id,))
        return [row["id"] for row in await cur.fetchall()]


async def _jobs_of(app, account) -> int:
    return len(await _job_ids(app, account))
