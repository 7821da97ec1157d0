"""Outbox tests: a real PostgreSQL, relays run as the app runs them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from core.db import Database


@pytest.fixture
def settings(settings):
    """Fast retries and short leases, so backoff and lapsed leases fit in a test."""
    return settings.model_copy(
        update={
            "outbox_retry_first_secs": 0.2,
            "outbox_max_attempts": 4,
            "outbox_lease_secs": 3,
            "password_hash_memory_kib": 1024,
        }
    )


@pytest.fixture
async def db(settings, clean_storage) -> AsyncIterator[Database]:
    database = Database(settings.database_url, min_size=1, max_size=10)
    await database.open()
    try:
        yield database
    finally:
        await database.close()


async def eventually(check, timeout: float = 60.0, interval: float = 0.05):
    """Poll an async condition until it holds (the machine is loaded: generous ceiling)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        assert asyncio.get_running_loop().time() < deadline, "condition never became true"
        await asyncio.sleep(interval)
