"""Condition polling for tests on a loaded 2-core machine: a generous ceiling, never a fixed sleep.

await until(lambda: received, what="the webhook")          # returns the first truthy value
until_sync(lambda: proc.poll() is not None, what="exit")   # the same, for plain threads
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any

CEILING_SECS = 120.0


async def until(
    condition: Callable[[], Any], *, timeout: float = CEILING_SECS, interval: float = 0.05, what: str
) -> Any:
    """Poll `condition` (sync or async) until it is truthy; fail the test at the ceiling."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"gave up after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(interval)


def until_sync(
    condition: Callable[[], Any], *, timeout: float = CEILING_SECS, interval: float = 0.05, what: str
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"gave up after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)
