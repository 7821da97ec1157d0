"""Per-job event streams in Redis (capped, expiring) and their SSE rendering.

The worker appends every graph event; SSE readers follow the stream by id, so a reconnecting
client resumes with `Last-Event-ID`. PostgreSQL stays the source of truth: when a stream has
expired or lost events, the terminal event is rebuilt from the job row.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from api.research.schemas import TERMINAL_EVENT_TYPES
from graph.events import PROGRESS

log = logging.getLogger(__name__)

STREAM_MAXLEN = 5000
LIVE_TTL_SECS = 2 * 24 * 3600  # a running job's stream outlives any wallclock cap
TERMINAL_TTL_SECS = 24 * 3600  # replayable for a day after completion, then from the DB


@dataclass(frozen=True)
class JobEvent:
    id: str
    type: str
    data: dict[str, Any]

    @property
    def position(self) -> tuple[int, int]:
        return stream_position(self.id)

    @functools.cached_property
    def sse(self) -> str:
        """The event as an SSE frame, rendered once however many subscribers receive it."""
        return f"id: {self.id}\nevent: {self.type}\ndata: {json.dumps(self.data, default=str)}\n\n"

    @property
    def is_terminal(self) -> bool:
        return self.type in TERMINAL_EVENT_TYPES


def stream_key(job_id: UUID | str) -> str:
    return f"job:{job_id}:events"


def job_of_stream(key: str) -> str:
    return key.removeprefix("job:").removesuffix(":events")


def stream_position(event_id: str) -> tuple[int, int]:
    """Stream ids ("ms-seq") as comparable tuples; anything unparsable sorts first."""
    millis, _, seq = event_id.partition("-")
    try:
        return int(millis), int(seq or 0)
    except ValueError:
        return 0, 0


def _events_of(entries) -> list[JobEvent]:
    return [
        JobEvent(event_id, fields.get("type", "unknown"), json.loads(fields.get("data") or "{}"))
        for event_id, fields in entries
    ]


class JobEvents:
    def __init__(self, redis: Redis):
        self.redis = redis

    async def drop(self, job_id: UUID | str) -> None:
        """Forget the stream of a job that was never created; a Redis outage only leaves it to expire."""
        try:
            await self.redis.delete(stream_key(job_id))
        except Exception as exc:
            log.warning("stream of uncreated job %s not dropped: %s", job_id, type(exc).__name__)

    async def append(self, job_id: UUID | str, event_type: str, data: dict[str, Any]) -> str | None:
        """Append one event; a Redis outage is logged, never fatal to the job."""
        ids = await self.append_many(job_id, [(event_type, data)])
        return ids[0] if ids else None

    async def append_many(self, job_id: UUID | str, events: list[tuple[str, dict[str, Any]]]) -> list[str]:
        """Append events in order in one round trip (one pipeline); their ids, or [] when Redis
        is down (logged, never fatal to the job)."""
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                self.add_to(pipe, job_id, events)
                return (await pipe.execute())[:-1]
        except Exception as exc:  # redis down: the DB still has the truth
            types = ", ".join(event_type for event_type, _ in events)
            log.warning("events %s for job %s not streamed: %s", types, job_id, type(exc).__name__)
            return []

    @staticmethod
    def add_to(pipe: Pipeline, job_id: UUID | str, events: list[tuple[str, dict[str, Any]]]) -> None:
        """Queue the appends on a caller's pipeline: one XADD reply (the id) per event, then the
        EXPIRE's."""
        key = stream_key(job_id)
        for event_type, data in events:
            pipe.xadd(
                key,
                {"type": event_type, "data": json.dumps(data, default=str)},
                maxlen=STREAM_MAXLEN,
                approximate=True,
            )
        ended = any(event_type in TERMINAL_EVENT_TYPES for event_type, _ in events)
        pipe.expire(key, TERMINAL_TTL_SECS if ended else LIVE_TTL_SECS)

    async def read(self, job_id: UUID | str, after: str, block_ms: int | None) -> list[JobEvent]:
        """Events after stream id `after`, waiting up to block_ms for the first one (None: no wait)."""
        reply = await self.redis.xread({stream_key(job_id): after}, count=500, block=block_ms or None)
        return [event for _key, entries in reply or [] for event in _events_of(entries)]

    async def since(self, job_id: UUID | str, after: str) -> list[JobEvent]:
        """Everything already in the stream after `after`, without waiting."""
        return _events_of(
            await self.redis.xrange(stream_key(job_id), min=f"({after}" if after != "0-0" else "-")
        )

    async def tail_id(self, job_id: UUID | str) -> str:
        last = await self.redis.xrevrange(stream_key(job_id), count=1)
        return last[0][0] if last else "0-0"


PROGRESS_COALESCE_SECS = 0.1
SEND_GAP_SECS = 0.01  # at most one round trip per job per gap: a client sees an event <= 10 ms later


class EventWriter:
    """One job's events on their way to its stream. `progress` events (each a full snapshot of
    spend against budget) are held up to PROGRESS_COALESCE_SECS and only the newest is sent;
    any other event is queued at once, after the progress held before it, so order is kept.
    One task sends the queue: an event goes out at once when nothing was sent in the last
    SEND_GAP_SECS, else with whatever else comes in that gap — so a burst of node boundaries
    costs a Redis round trip or two, not one each, and the run never waits on Redis."""

    def __init__(
        self,
        events: JobEvents,
        job_id: UUID | str,
        *,
        coalesce_secs: float = PROGRESS_COALESCE_SECS,
        gap_secs: float = SEND_GAP_SECS,
    ):
        self.events = events
        self.job_id = job_id
        self.coalesce_secs = coalesce_secs
        self.gap_secs = gap_secs
        self._closing = False
        self._gap: asyncio.Future | None = None
        self._progress: dict[str, Any] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._queued: list[tuple[str, dict[str, Any]]] = []
        self._sending: asyncio.Task | None = None

    async def emit(self, event_type: str, data: dict[str, Any]) -> None:
        if event_type == PROGRESS:
            self._progress = data
            if self._timer is None:
                self._timer = asyncio.get_running_loop().call_later(self.coalesce_secs, self._queue, [])
            return
        self._queue([(event_type, data)])

    async def close(self) -> None:
        """Send what is held and queued (the run ended), without waiting out a gap."""
        self._closing = True
        self._queue([])
        if self._gap is not None and not self._gap.done():
            self._gap.set_result(None)
        if self._sending is not None:
            await self._sending

    def _queue(self, events: list[tuple[str, dict[str, Any]]]) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._progress is not None:
            events = [(PROGRESS, self._progress), *events]
            self._progress = None
        self._queued.extend(events)
        if self._queued and (self._sending is None or self._sending.done()):
            self._sending = asyncio.create_task(self._send_queued())

    async def _send_queued(self) -> None:
        loop = asyncio.get_running_loop()
        while self._queued:
            batch, self._queued = self._queued, []
            await self.events.append_many(self.job_id, batch)
            if not self._closing:  # the gap: what is emitted meanwhile goes out together after it
                self._gap = loop.create_future()
                timer = loop.call_later(self.gap_secs, _end_gap, self._gap)
                await self._gap
                timer.cancel()


def _end_gap(gap: asyncio.Future) -> None:
    if not gap.done():
        gap.set_result(None)


SUBSCRIBER_QUEUE_MAX = 1000  # events buffered for one slow client before it is cut loose


class SubscriberTooSlow(Exception):
    """The client fell SUBSCRIBER_QUEUE_MAX events behind: end its stream so it resumes with
    Last-Event-ID from Redis instead of buffering without bound or slowing the other clients."""


@dataclass(eq=False)
class Subscription:
    """One SSE client's view: the backlog it missed, then the live feed, each event once.

    `next(timeout)` waits for an event without a timer per wait: one alarm per subscription is
    armed when a wait needs it and, while events keep coming, moved on only when it rings (every
    `timeout` at most, not on every event: 500 subscribers at 10 events/s made 5,000 timers/s).
    """

    backlog: list[JobEvent]
    last: tuple[int, int]
    live: deque[JobEvent] = field(default_factory=deque)
    overflowed: bool = False
    _waiter: asyncio.Future | None = None
    _deadline: float = 0.0
    _alarm: asyncio.TimerHandle | None = None

    def offer(self, event: JobEvent) -> bool:
        """Queue a live event; False (and cut loose) when the client is too far behind."""
        if len(self.live) >= SUBSCRIBER_QUEUE_MAX:
            self.overflowed = True
            return False
        self.live.append(event)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
        return True

    @property
    def drained(self) -> bool:
        """Nothing received and not yet taken."""
        return not self.backlog and not self.live

    def ready(self) -> list[JobEvent]:
        """Every further event already waiting, in order (so a burst goes out in one write)."""
        waiting = [*self.backlog, *self.live]
        self.backlog = []
        self.live.clear()
        fresh = []
        for event in waiting:
            if event.position > self.last:
                self.last = event.position
                fresh.append(event)
        return fresh

    async def next(self, timeout: float) -> JobEvent | None:
        """The next event, or None when none came within `timeout` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self.overflowed and self.drained:
                raise SubscriberTooSlow()
            if self.backlog:
                event = self.backlog.pop(0)
            elif self.live:
                event = self.live.popleft()
            elif loop.time() >= deadline:
                return None
            else:
                await self._wait(loop, deadline)
                continue
            if event.position > self.last:
                self.last = event.position
                return event

    async def _wait(self, loop: asyncio.AbstractEventLoop, deadline: float) -> None:
        self._deadline = deadline
        if self._alarm is None or self._alarm.when() > deadline:
            if self._alarm is not None:
                self._alarm.cancel()
            self._alarm = loop.call_at(deadline, self._ring)
        self._waiter = loop.create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def _ring(self) -> None:
        """The alarm: wake a wait whose deadline has come, or move on to the current one."""
        self._alarm = None
        if self._waiter is None or self._waiter.done():
            return  # nobody waits; the next wait arms it again
        loop = self._waiter.get_loop()
        if loop.time() >= self._deadline:
            self._waiter.set_result(None)
        else:
            self._alarm = loop.call_at(self._deadline, self._ring)

    def close(self) -> None:
        if self._alarm is not None:
            self._alarm.cancel()
            self._alarm = None


@dataclass
class _Feed:
    after: str
    subscribers: set[Subscription] = field(default_factory=set)


class EventHub:
    """Fans every watched job's stream out to this process's SSE clients and waiters through ONE
    Redis reader: a single blocking XREAD over all watched streams plus a private wake stream.

    N subscribers on one job cost one decode per event, and M watched jobs cost one Redis
    connection, not M: a hundred streams on distinct jobs can no longer drain the connection pool
    that creates, rate limits and cancels need. A new job is added by writing to the wake stream,
    which returns the blocked XREAD at once so the next one includes it.
    """

    def __init__(self, events: JobEvents, block_ms: int = 5000):
        self.events = events
        self.block_ms = block_ms
        self.feeds: dict[str, _Feed] = {}
        self._wake_key = f"events:hub:{uuid4().hex}:wake"
        self._wake_after = "0-0"
        self._reader: asyncio.Task | None = None

    @asynccontextmanager
    async def subscribe(self, job_id: UUID | str, after: str | None) -> AsyncIterator[Subscription]:
        """Events after stream id `after` (the backlog first), or only new ones when None."""
        key = str(job_id)
        feed = self.feeds.get(key)
        if feed is None:
            tail = await self._safely(self.events.tail_id(key), "0-0")
            feed = self.feeds.setdefault(key, _Feed(after=tail))
            await self._rearm()
        subscription = Subscription([], (0, 0))
        feed.subscribers.add(subscription)
        try:
            if after is not None:
                subscription.backlog = await self._safely(self.events.since(key, after), [])
                subscription.last = stream_position(after)
            yield subscription
        finally:
            subscription.close()
            feed.subscribers.discard(subscription)
            if not feed.subscribers and self.feeds.get(key) is feed:
                del self.feeds[key]  # the reader drops it from its next XREAD

    async def _rearm(self) -> None:
        """Make the reader include the current feeds: start it, or wake its blocked XREAD."""
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read_all())
            return
        redis = self.events.redis
        try:
            async with redis.pipeline(transaction=False) as pipe:
                pipe.xadd(self._wake_key, {"w": "1"}, maxlen=16, approximate=False)
                pipe.expire(self._wake_key, 3600)
                await pipe.execute()
        except Exception:
            log.warning("event hub could not wake its reader; new streams join within %d ms", self.block_ms)

    @staticmethod
    async def _safely(read, fallback):
        """A Redis read that degrades to `fallback` (the database still has the truth)."""
        try:
            return await read
        except Exception:
            log.warning("event stream unavailable; serving from the database")
            return fallback

    async def _read_all(self) -> None:
        while self.feeds:
            streams = {stream_key(job_id): feed.after for job_id, feed in self.feeds.items()}
            streams[self._wake_key] = self._wake_after
            try:
                reply = await self.events.redis.xread(streams, count=500, block=self.block_ms)
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis away: subscribers fall back on the database
                await asyncio.sleep(1.0)
                continue
            for key, entries in reply or []:
                if key == self._wake_key:
                    self._wake_after = entries[-1][0]
                    continue
                feed = self.feeds.get(job_of_stream(key))
                if feed is None:
                    continue
                for event in _events_of(entries):
                    feed.after = event.id
                    for subscription in list(feed.subscribers):
                        if not subscription.offer(event):
                            feed.subscribers.discard(subscription)


def process_hub(state, redis: Redis) -> EventHub:
    """The process's one hub (kept on the app's state), made on first use: every stream and
    waiter of the process shares its one Redis reader."""
    hub = getattr(state, "event_hub", None)
    if hub is None:
        hub = state.event_hub = EventHub(JobEvents(redis))
    return hub
