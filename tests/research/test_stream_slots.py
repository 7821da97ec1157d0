"""Open SSE streams and long-polls are capped per user (INFRENCE_MAX_STREAMS_PER_USER), counted
in Redis with a lapse time so a crashed process cannot keep slots forever."""

from __future__ import annotations

import asyncio

import pytest

from core.stream_slots import SLOT_TTL_SECS, StreamSlots, TooManyStreams
from tests.accounts import open_account
from tests.clock import PinnedClock


async def test_past_the_cap_streams_and_long_polls_get_429_until_one_ends(app, idle_api):
    app.state.settings = app.state.settings.model_copy(update={"max_streams_per_user": 2})
    account = await open_account(idle_api, app.state.db)
    other = await open_account(idle_api, app.state.db)
    job = (
        await idle_api.post(
            "/v1/research",
            headers=account.key,
            json={"question": "What is a queue?", "mode": "lite", "async": True},
        )
    ).json()
    status_url = f"/v1/research/{job['id']}"
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
    other_job = (
        await idle_api.post(
            "/v1/research",
            headers=other.key,
            json={"question": "What is a queue?", "mode": "lite", "async": True},
        )
    ).json()
    assert (
        await idle_api.get(f"/v1/research/{other_job['id']}", params={"wait": 1}, headers=other.key)
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
