"""The event hub follows many jobs through one Redis connection, so streams cannot starve the pool."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from redis.asyncio import BlockingConnectionPool, Redis

from api.research.events import (
    SUBSCRIBER_QUEUE_MAX,
    EventHub,
    EventWriter,
    JobEvent,
    JobEvents,
    SubscriberTooSlow,
    Subscription,
)
from tests.waiting import until

WATCHED_JOBS = 150
POOL_SIZE = 4  # far fewer connections than watched jobs


async def test_many_jobs_stream_through_a_small_pool_and_leave_room_for_other_commands(
    redis_url, clean_storage
):
    pool = BlockingConnectionPool.from_url(
        redis_url, max_connections=POOL_SIZE, timeout=2, decode_responses=True
    )
    redis = Redis(connection_pool=pool)
    writer = Redis.from_url(redis_url, decode_responses=True)
    hub = EventHub(JobEvents(redis), block_ms=5000)
    jobs = [str(uuid.uuid4()) for _ in range(WATCHED_JOBS)]

    async def watch(job_id: str) -> list[str]:
        async with hub.subscribe(job_id, "0-0") as subscription:
            seen: list[str] = []
            while not seen or seen[-1] != "job.succeeded":
                event = await subscription.next(timeout=30)
                assert event is not None, f"job {job_id} saw {seen} and then nothing"
                seen.append(event.type)
            return seen

    try:
        watchers = [asyncio.create_task(watch(job_id)) for job_id in jobs]
        await asyncio.sleep(0.5)
        started = asyncio.get_running_loop().time()
        assert await redis.ping()  # other commands still get a connection at once
        assert asyncio.get_running_loop().time() - started < 1.0

        publisher = JobEvents(writer)
        for job_id in jobs:
            await publisher.append(job_id, "job.started", {})
        for job_id in jobs:
            await publisher.append(job_id, "job.succeeded", {"id": job_id})
        results = await asyncio.wait_for(asyncio.gather(*watchers), timeout=60)
        assert all(seen == ["job.started", "job.succeeded"] for seen in results)
        assert len(pool._available_connections) + len(pool._in_use_connections) <= POOL_SIZE
    finally:
        await redis.aclose()
        await writer.aclose()


async def test_a_job_watched_after_the_reader_blocks_joins_at_once(redis_url, clean_storage):
    redis = Redis.from_url(redis_url, decode_responses=True)
    hub = EventHub(JobEvents(redis), block_ms=10_000)
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    try:
        async with hub.subscribe(first, None):
            await asyncio.sleep(0.3)  # the reader is now blocked on the first job alone
            async with hub.subscribe(second, None) as late:
                await JobEvents(redis).append(second, "job.succeeded", {})
                event = await late.next(timeout=3)  # far below the 10 s block
                assert event is not None and event.type == "job.succeeded"
    finally:
        await redis.aclose()


async def test_a_client_that_falls_too_far_behind_is_cut_loose_without_slowing_the_others(
    redis_url, clean_storage
):
    redis = Redis.from_url(redis_url, decode_responses=True)
    hub = EventHub(JobEvents(redis), block_ms=1000)
    job_id = str(uuid.uuid4())
    burst = SUBSCRIBER_QUEUE_MAX + 50
    try:
        async with hub.subscribe(job_id, None) as slow, hub.subscribe(job_id, None) as brisk:
            publisher = JobEvents(redis)
            received = 0
            for i in range(burst):
                await publisher.append(job_id, "progress", {"i": i})
                while await brisk.next(timeout=0) is not None:
                    received += 1
            while received < burst:
                assert await brisk.next(timeout=10) is not None
                received += 1
            drained = 0
            with pytest.raises(SubscriberTooSlow):
                while await slow.next(timeout=10) is not None:
                    drained += 1
            assert drained == SUBSCRIBER_QUEUE_MAX  # what it had buffered, then the cut
    finally:
        await redis.aclose()


async def test_progress_is_coalesced_and_every_other_event_keeps_its_place(redis_url, clean_storage):
    """A burst of progress snapshots reaches the stream as its newest one, sent before the next
    other event (in the same round trip); progress alone goes out within the coalescing window."""
    redis = Redis.from_url(redis_url, decode_responses=True)
    events = JobEvents(redis)
    job_id = str(uuid.uuid4())
    writer = EventWriter(events, job_id, coalesce_secs=60)  # only the next event flushes it
    try:
        for i in range(20):
            await writer.emit("progress", {"i": i})
        await writer.emit("search.done", {"query": "q"})
        await writer.emit("progress", {"i": 20})
        await writer.emit("progress", {"i": 21})
        await writer.close()
        stream = await events.since(job_id, "0-0")
        assert [(e.type, e.data) for e in stream] == [
            ("progress", {"i": 19}),
            ("search.done", {"query": "q"}),
            ("progress", {"i": 21}),
        ]

        quick = EventWriter(events, job_id := str(uuid.uuid4()), coalesce_secs=0.05)
        await quick.emit("progress", {"i": 1})
        for _ in range(100):  # condition polling: the timer sends it without any further emit
            if await events.since(job_id, "0-0"):
                break
            await asyncio.sleep(0.05)
        assert [e.data for e in await events.since(job_id, "0-0")] == [{"i": 1}]
    finally:
        await redis.aclose()


async def round_trips(redis: Redis) -> int:
    """Appends sent so far: each round trip of events ends with the stream's one EXPIRE."""
    return (await redis.info("commandstats")).get("cmdstat_expire", {}).get("calls", 0)


async def test_a_burst_of_events_reaches_the_stream_in_order_in_a_few_round_trips(redis_url, clean_storage):
    """The first event goes at once, the rest of the burst together after the gap — or at once
    when the run ends: closing never waits a gap out."""
    redis = Redis.from_url(redis_url, decode_responses=True)
    events = JobEvents(redis)
    job_id = str(uuid.uuid4())
    writer = EventWriter(events, job_id, coalesce_secs=60, gap_secs=60)
    try:
        before = await round_trips(redis)
        await writer.emit("plan", {"i": -1})
        await until(lambda: events.since(job_id, "0-0"), what="the first event to be sent")
        for i in range(50):
            await writer.emit("source.read", {"i": i})
            await writer.emit("progress", {"i": i})
        await asyncio.sleep(0.1)
        assert len(await events.since(job_id, "0-0")) == 1  # the burst waits for the gap's end
        await asyncio.wait_for(writer.close(), 10)
        stream = await events.since(job_id, "0-0")
        assert [(e.type, e.data["i"]) for e in stream] == [
            ("plan", -1),
            *[(kind, i) for i in range(50) for kind in ("source.read", "progress")],
        ]
        assert await round_trips(redis) - before == 2

        quick = EventWriter(events, job_id := str(uuid.uuid4()), gap_secs=0.05)
        await quick.emit("search", {"i": 1})
        await quick.emit("search", {"i": 2})  # in the gap after the first: sent when it ends
        for _ in range(100):  # condition polling, with no further emit or close
            if len(await events.since(job_id, "0-0")) == 2:
                break
            await asyncio.sleep(0.05)
        assert [e.data for e in await events.since(job_id, "0-0")] == [{"i": 1}, {"i": 2}]
    finally:
        await redis.aclose()


async def test_a_subscriber_wakes_for_an_event_and_times_out_only_after_a_quiet_timeout():
    """One alarm serves many waits: an event offered mid-wait ends it at once, a short wait after
    a long one still ends on time, and a wait with nothing coming ends no sooner than asked."""
    subscription = Subscription([], (0, 0))
    loop = asyncio.get_running_loop()
    waiting = asyncio.create_task(subscription.next(timeout=30))
    await asyncio.sleep(0.05)
    assert subscription.offer(JobEvent("5-0", "progress", {}))
    assert (await asyncio.wait_for(waiting, 5)).id == "5-0"
    began = loop.time()
    assert await subscription.next(timeout=0.3) is None
    assert 0.3 <= loop.time() - began < 5
    assert subscription.offer(JobEvent("4-0", "progress", {}))  # older than the last one given
    assert await subscription.next(timeout=0) is None
    subscription.close()
