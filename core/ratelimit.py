"""Fixed-window rate limits in Redis, shared by every API process.

`enforce` counts a hit and raises `RateLimited` (429 with `Retry-After` and `X-RateLimit-*`
headers) once the window's limit is passed; `hit` counts without raising and `peek` reads
without counting (login counts only failures, but checks before trying). Routes put the
headers on successful answers with `state.apply(response)`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from fastapi import Response
from redis.asyncio import Redis

from core.errors import RateLimited

_PREFIX = "ratelimit"


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


def _window(key: str, window_secs: int) -> tuple[str, int]:
    now = time.time()
    index = int(now // window_secs)
    reset_after = max(1, math.ceil((index + 1) * window_secs - now))
    return f"{_PREFIX}:{key}:{window_secs}:{index}", reset_after


async def hit(redis: Redis, key: str, limit: int, window_secs: int) -> RateLimitState:
    """Count one event in the current window and report where the caller stands."""
    redis_key, reset_after = _window(key, window_secs)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(redis_key)
        pipe.expire(redis_key, window_secs + 1)
        count, _ = await pipe.execute()
    return RateLimitState(limit=limit, count=int(count), reset_after_secs=reset_after)


async def peek(redis: Redis, key: str, limit: int, window_secs: int) -> RateLimitState:
    """Where the caller stands, without counting anything."""
    redis_key, reset_after = _window(key, window_secs)
    count = await redis.get(redis_key)
    return RateLimitState(limit=limit, count=int(count or 0), reset_after_secs=reset_after)


async def enforce(redis: Redis, key: str, limit: int, window_secs: int) -> RateLimitState:
    """Count one event; raise 429 when it is over the window's limit."""
    state = await hit(redis, key, limit, window_secs)
    if state.exceeded:
        raise state.refuse()
    return state


async def clear(redis: Redis, key: str, window_secs: int) -> None:
    """Forget the current window's count (e.g. failures after a successful login)."""
    redis_key, _ = _window(key, window_secs)
    await redis.delete(redis_key)
