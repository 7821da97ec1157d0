"""`core.ratelimit`, as research creation uses it: per-key windows with headers either way.

Windows are cut by the wall clock, so every test here pins the limiter's clock and moves it
on purpose: a window boundary can never fall in the middle of a test by accident."""

from __future__ import annotations

import pytest
from fastapi import Response

from core.errors import RateLimited
from core.ratelimit import RateLimiter
from tests.clock import WINDOW_START, PinnedClock


async def test_enforce_counts_until_the_limit_then_refuses_with_headers(app):
    limits = RateLimiter(app.state.redis, PinnedClock(WINDOW_START + 15))
    for used in range(1, 4):
        state = await limits.enforce("key:abc", limit=3, window_secs=60)
        assert (state.limit, state.remaining) == (3, 3 - used)
    response = Response()
    state.apply(response)
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert response.headers["X-RateLimit-Reset"] == "45"
    with pytest.raises(RateLimited) as refused:
        await limits.enforce("key:abc", limit=3, window_secs=60)
    assert refused.value.status_code == 429
    assert refused.value.headers["Retry-After"] == "45"
    assert refused.value.headers["X-RateLimit-Limit"] == "3"
    assert (await limits.enforce("key:other", limit=3, window_secs=60)).remaining == 2


async def test_a_new_window_starts_when_the_clock_crosses_its_boundary(app):
    clock = PinnedClock(WINDOW_START + 59.5)
    limits = RateLimiter(app.state.redis, clock)
    for _ in range(3):
        await limits.enforce("k", limit=3, window_secs=60)
    assert (await limits.peek("k", limit=3, window_secs=60)).reset_after_secs == 1
    with pytest.raises(RateLimited):
        await limits.enforce("k", limit=3, window_secs=60)
    clock.now = WINDOW_START + 60.2
    assert (await limits.enforce("k", limit=3, window_secs=60)).remaining == 2


async def test_peek_does_not_count_and_clear_forgets(app):
    limits = RateLimiter(app.state.redis, PinnedClock(WINDOW_START))
    await limits.hit("k", limit=2, window_secs=60)
    assert (await limits.peek("k", limit=2, window_secs=60)).count == 1
    assert (await limits.peek("k", limit=2, window_secs=60)).count == 1
    await limits.clear("k", window_secs=60)
    assert (await limits.peek("k", limit=2, window_secs=60)).count == 0
