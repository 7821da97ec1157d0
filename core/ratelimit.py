"""Fixed-window rate limits in Redis, shared by every API process.

`RateLimiter.enforce` counts a hit and raises `RateLimited` (429 with `Retry-After` and
`X-RateLimit-*` headers) once the window's limit is passed; `hit` counts without raising and
`peek` reads without counting (login counts only failures, but checks before trying). Routes
put the headers on successful answers with `state.apply(response)`.

Windows are aligned to the clock (`now // window`), so the clock is injectable: tests pin it
and move it on purpose instead of hoping no window boundary falls inside them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from core.errors import RateLimited

_PREFIX = "ratelimit"

Clock = Callable[[], float]  # seconds since the epoch, like time.time


@dataclass(frozen=True)
class RateLimitState:
    limit: int
    count: int
    reset_after_secs: int  # seconds until the current window ends

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.count)

    @property
    def exceeded(self) -> bool:
        return self.count > self.limit

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_after_secs),
        }

    def apply(self, response: Response) -> None:
        """Copy the X-RateLimit-* headers onto a successful response."""
        response.headers.update(self.headers())

    def refuse(self, detail: str = "Too many requests, try again later") -> RateLimited:
        return RateLimited(detail, headers={**self.headers(), "Retry-After": str(self.reset_after_secs)})


class RateLimiter:
    """Counters in `redis`, windows cut by `clock`."""

    def __init__(self, redis: Redis, clock: Clock = time.time):
        self.redis = redis
        self.clock = clock

    def _window(self, key: str, window_secs: int) -> tuple[str, int]:
        now = self.clock()
        index = int(now // window_secs)
        reset_after = max(1, math.ceil((index + 1) * window_secs - now))
        return f"{_PREFIX}:{key}:{window_secs}:{index}", reset_after

    def quota(self, key: str, limit: int, window_secs: int) -> Quota:
        return Quota(self, key, limit, window_secs)

    async def hit(self, key: str, limit: int, window_secs: int) -> RateLimitState:
        """Count one event in the current window and report where the caller stands."""
        quota = self.quota(key, limit, window_secs)
        async with self.redis.pipeline(transaction=True) as pipe:
            quota.count_on(pipe)
            count, _ = await pipe.execute()
        return quota.settle(count)

    async def peek(self, key: str, limit: int, window_secs: int) -> RateLimitState:
        """Where the caller stands, without counting anything."""
        redis_key, reset_after = self._window(key, window_secs)
        count = await self.redis.get(redis_key)
        return RateLimitState(limit=limit, count=int(count or 0), reset_after_secs=reset_after)

    async def enforce(self, key: str, limit: int, window_secs: int) -> RateLimitState:
        """Count one event; raise 429 when it is over the window's limit."""
        state = await self.hit(key, limit, window_secs)
        if state.exceeded:
            raise state.refuse()
        return state

    async def clear(self, key: str, window_secs: int) -> None:
        """Forget the current window's count (e.g. failures after a successful login)."""
        redis_key, _ = self._window(key, window_secs)
        await self.redis.delete(redis_key)


class Quota:
    """One hit on a limit, counted in the round trip of whoever talks to Redis next: `count_on`
    queues it on their pipeline (its replies come first), `settle` reads the INCR's reply. A
    research create counts its limit in the pipeline that appends its `job.queued` event."""

    def __init__(self, limiter: RateLimiter, key: str, limit: int, window_secs: int):
        self.limiter, self.key, self.limit, self.window_secs = limiter, key, limit, window_secs
        self.state: RateLimitState | None = None
        self._reset_after = window_secs

    def count_on(self, pipe: Pipeline) -> None:
        redis_key, self._reset_after = self.limiter._window(self.key, self.window_secs)
        pipe.incr(redis_key)
        pipe.expire(redis_key, self.window_secs + 1)

    def settle(self, count: int) -> RateLimitState:
        self.state = RateLimitState(limit=self.limit, count=int(count), reset_after_secs=self._reset_after)
        return self.state


def rate_limiter_of(state) -> RateLimiter:
    """The app's limiter: its Redis, and the clock tests may set on `app.state.clock`."""
    return RateLimiter(state.redis, state.clock)


async def get_rate_limiter(request: Request) -> RateLimiter:
    return rate_limiter_of(request.app.state)


RateLimiterDep = Annotated[RateLimiter, Depends(get_rate_limiter)]
