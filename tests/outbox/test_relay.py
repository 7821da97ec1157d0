"""The relay itself: backoff, dead letters, idempotent enqueue, leases, and no task run twice."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from datetime import timedelta

import pytest

from core import outbox
from core.outbox import OutboxRegistry, OutboxRepository, Relay, retry_delay, run_relay_until
from tests.outbox.conftest import eventually


async def task(db, key: str):
    async with db.connection() as conn:
        return await OutboxRepository().by_key(conn, key)


async def enqueue(db, kind: str, payload: dict, key: str):
    async with db.transaction() as tx:
        return await outbox.enqueue(tx, kind, payload, key=key)


class Running:
    """Relays running until the block ends, as the app runs them."""

    def __init__(self, *relays: Relay):
        self.relays, self.stop = relays, asyncio.Event()

    async def __aenter__(self):
        self.tasks = [asyncio.create_task(run_relay_until(r, self.stop)) for r in self.relays]
        return self

    async def __aexit__(self, *exc):
        self.stop.set()
        await asyncio.gather(*self.tasks)


def test_retries_wait_two_seconds_then_double_up_to_ten_minutes():
    delays = [retry_delay(n, 2.0).total_seconds() for n in range(1, 12)]

    assert delays == [2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600]


async def test_enqueueing_the_same_key_twice_is_one_task(db):
    first = await enqueue(db, "noop", {"n": 1}, "same")
    second = await enqueue(db, "noop", {"n": 2}, "same")

    assert first is not None and second is None
    assert (await task(db, "same")).payload == {"n": 1}


async def test_a_task_commits_or_vanishes_with_its_transaction(db):
    with pytest.raises(RuntimeError):
        async with db.transaction() as tx:
            await outbox.enqueue(tx, "noop", {}, key="rolled-back")
            raise RuntimeError("the change that caused it failed")

    assert await task(db, "rolled-back") is None


async def test_a_failing_task_backs_off_then_succeeds(db, settings):
    calls: list[float] = []

    async def flaky(payload: dict) -> None:
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise ConnectionError("upstream away")

    registry = OutboxRegistry()
    registry.register("flaky", flaky)
    await enqueue(db, "flaky", {}, "flaky:1")

    async with Running(Relay(db, registry, settings)):
        done = await eventually(lambda: _with_status(db, "flaky:1", "done"))

    assert len(calls) == 3 and done.attempts == 3 and done.last_error is None
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    assert gaps[0] >= 0.2 and gaps[1] >= 0.4  # first retry after 0.2 s, then doubling


async def test_a_task_that_keeps_failing_goes_dead_after_max_attempts_and_says_why(db, settings):
    calls, dead_letters = [], []

    async def broken(payload: dict) -> None:
        calls.append(payload)
        raise ValueError("the far end refuses this")

    async def on_dead(payload: dict, error: str) -> None:
        dead_letters.append((payload, error))

    registry = OutboxRegistry()
    registry.register("broken", broken, on_dead=on_dead)
    await enqueue(db, "broken", {"id": 7}, "broken:7")

    async with Running(Relay(db, registry, settings)):
        dead = await eventually(lambda: _with_status(db, "broken:7", "dead"))
        await asyncio.sleep(1.0)  # a dead task is never run again

    assert len(calls) == settings.outbox_max_attempts == dead.attempts
    assert dead.last_error == "ValueError: the far end refuses this"
    assert dead_letters == [({"id": 7}, "ValueError: the far end refuses this")]


async def test_two_relays_never_run_the_same_task_twice(db, settings):
    runs: Counter[int] = Counter()

    async def slow(payload: dict) -> None:
        runs[payload["n"]] += 1
        await asyncio.sleep(0.01)

    registry = OutboxRegistry()
    registry.register("slow", slow)
    for n in range(60):
        await enqueue(db, "slow", {"n": n}, f"slow:{n}")

    relays = [Relay(db, registry, settings, relay_id=f"relay-{i}") for i in range(2)]
    async with Running(*relays):
        await eventually(lambda: _count(db, "done", 60))

    assert sorted(runs) == list(range(60)) and set(runs.values()) == {1}


async def test_a_task_whose_relay_died_is_run_again_once_its_lease_lapses(db, settings):
    runs = []

    async def record(payload: dict) -> None:
        runs.append(time.monotonic())

    registry = OutboxRegistry()
    registry.register("record", record)
    await enqueue(db, "record", {}, "orphan")
    async with db.transaction() as tx:  # a relay claims it, then dies without a word
        [orphan] = await OutboxRepository().claim_due(tx, relay="gone", lease=timedelta(seconds=2), limit=5)
    claimed_at = time.monotonic()
    assert orphan.attempts == 1

    async with Running(Relay(db, registry, settings)):
        done = await eventually(lambda: _with_status(db, "orphan", "done"))

    assert len(runs) == 1 and runs[0] - claimed_at >= 1.5  # not before the lease lapsed
    assert done.attempts == 2


async def _with_status(db, key: str, status: str):
    found = await task(db, key)
    return found if found is not None and found.status == status else None


async def _count(db, status: str, expected: int) -> bool:
    async with db.connection() as conn:
        tasks = await OutboxRepository().page(conn, status=status, limit=200, offset=0)
    return len(tasks) == expected


async def test_retention_forgets_tasks_done_a_week_ago_and_keeps_dead_ones(db, settings, redis_url):
    from redis.asyncio import Redis

    from api.retention import run_retention

    for key in ("old-done", "new-done", "old-dead"):
        await enqueue(db, "noop", {}, key)
    async with db.connection() as conn:
        await conn.execute(
            "UPDATE outbox_tasks SET status = 'done', done_at = now() - interval '8 days'"
            " WHERE dedupe_key = 'old-done'"
        )
        await conn.execute(
            "UPDATE outbox_tasks SET status = 'done', done_at = now() WHERE dedupe_key = 'new-done'"
        )
        await conn.execute(
            "UPDATE outbox_tasks SET status = 'dead', done_at = now() - interval '30 days'"
            " WHERE dedupe_key = 'old-dead'"
        )
    redis = Redis.from_url(redis_url)
    try:
        report = await run_retention(db, redis, settings)
    finally:
        await redis.aclose()

    assert report.outbox_tasks == 1 and "outbox_tasks" not in report.failed_steps
    assert await task(db, "old-done") is None
    assert (await task(db, "new-done")).status == "done" and (await task(db, "old-dead")).status == "dead"
