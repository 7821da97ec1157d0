"""Caps on a user's open streaming and long-poll connections, counted in Redis: SSE job events,
`?wait=` long-polls, `/v1/chat/completions` calls and MCP tools that wait for a job.

Each open connection holds a slot: a member of the user's sorted set whose score is the time it
lapses. A live stream renews its slot while it runs and gives it back when it ends; a process
that dies gives nothing back, so its slots simply lapse after `SLOT_TTL_SECS`. The check and the
claim are one Lua script, so concurrent requests cannot both take the last slot.

While Redis is unreachable the cap is not enforced (streams already survive a Redis restart by
watching the database; refusing them all would turn a Redis blip into an outage).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import anyio
from fastapi import Depends, Request
from redis.asyncio import Redis
from redis.exceptions import RedisError

from core.errors import RateLimited
from core.ratelimit import Clock

log = logging.getLogger(__name__)

SLOT_TTL_SECS = 90  # longer than the longest long-poll (60 s); streams renew well before
RENEW_EVERY_SECS = 30

# KEYS[1] = the user's set; ARGV = now, lapse time, member, cap. Returns 1 if claimed.
_CLAIM = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('EXPIRE', KEYS[1], math.ceil(ARGV[2] - ARGV[1]) + 1)
return 1
"""


class TooManyStreams(RateLimited):
    code = "too_many_streams"
    detail = "Too many open streams for this account; close one and retry"


class Slot:
    """One held connection slot."""

    def __init__(self, slots: StreamSlots, key: str, member: str):
        self._slots, self._key, self._member = slots, key, member
        self._renewed_at = slots.clock()

    async def renew_if_due(self) -> None:
        now = self._slots.clock()
        if now - self._renewed_at < RENEW_EVERY_SECS:
            return
        try:
            async with self._slots.redis.pipeline(transaction=True) as pipe:
                pipe.zadd(self._key, {self._member: now + SLOT_TTL_SECS})
                pipe.expire(self._key, SLOT_TTL_SECS + 1)
                await pipe.execute()
            self._renewed_at = now
        except RedisError:
            pass  # Redis away: try again on the next turn

    async def release(self) -> None:
        # Shielded: a stream ends by being cancelled (the client went away), and the give-back
        # must still reach Redis.
        with anyio.CancelScope(shield=True):
            try:
                await self._slots.redis.zrem(self._key, self._member)
            except RedisError:
                pass  # it lapses on its own


class StreamSlots:
    def __init__(self, redis: Redis, limit: int, clock: Clock = time.time):
        self.redis = redis
        self.limit = limit
        self.clock = clock
        self._claim = redis.register_script(_CLAIM)

    async def acquire(self, user_id: object) -> Slot:
        """A slot for one more connection of `user_id`, or 429 when all are taken."""
        key, member, now = f"streams:user:{user_id}", uuid.uuid4().hex, self.clock()
        try:
            claimed = await self._claim(keys=[key], args=[now, now + SLOT_TTL_SECS, member, self.limit])
        except RedisError:
            log.warning("stream slots unavailable (Redis): not capping this stream")
            claimed = True
        if not claimed:
            raise TooManyStreams(headers={"Retry-After": "5"})
        return Slot(self, key, member)

    @asynccontextmanager
    async def hold(self, user_id: object) -> AsyncIterator[Slot]:
        slot = await self.acquire(user_id)
        try:
            yield slot
        finally:
            await slot.release()


def stream_slots_of(state) -> StreamSlots:
    """The app's slots: its Redis, its configured cap, the clock tests may set."""
    return StreamSlots(state.redis, state.settings.max_streams_per_user, state.clock)


async def get_stream_slots(request: Request) -> StreamSlots:
    return stream_slots_of(request.app.state)


StreamSlotsDep = Annotated[StreamSlots, Depends(get_stream_slots)]
