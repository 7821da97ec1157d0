"""`core.ratelimit`, as research creation uses it: per-key windows with headers either way."""

from __future__ import annotations

import pytest
from fastapi import Response

from core import ratelimit
from core.errors import RateLimited


async def test_enforce_counts_until_the_limit_then_refuses_with_headers(app):
    redis = app.state.redis
    for used in range(1, 4):
        state = await ratelimit.enforce(redis, "key:abc", limit=3, window_secs=60)
        assert (state.limit, state.remaining) == (3, 3 - used)
    response = Response()
    state.apply(response)
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert 0 < int(response.headers["X-RateLimit-Reset"]) <= 60
    with pytest.raises(RateLimited) as refused:
        await ratelimit.enforce(redis, "key:abc", limit=3, window_secs=60)
    assert refused.value.status_code == 429
    assert 0 < int(refused.value.headers["Retry-After"]) <= 60
    assert refused.value.headers["X-RateLimit-Limit"] == "3"
    assert (await ratelimit.enforce(redis, "key:other", limit=3, window_secs=60)).remaining == 2


async def test_peek_does_not_count_and_clear_forgets(app):
    redis = app.state.redis
    await ratelimit.hit(redis, "k", limit=2, window_secs=60)
    assert (await ratelimit.peek(redis, "k", limit=2, window_secs=60)).count == 1
    assert (await ratelimit.peek(redis, "k", limit=2, window_secs=60)).count == 1
    await ratelimit.clear(redis, "k", window_secs=60)
    assert (await ratelimit.peek(redis, "k", limit=2, window_secs=60)).count == 0
