"""argon2id password hashing and the password policy.

Hashing runs in worker threads so a login never stalls the event loop. A login for an unknown
email verifies against a dummy hash, so both branches cost one hash (no timing oracle).

Each hash takes `memory_kib` of RAM and a core for tens of milliseconds, so at most
`HASH_CONCURRENCY` run at once per process (a pool of that many threads is the semaphore); a burst of logins queues on it
instead of exhausting memory or the default thread pool that DNS and file reads share.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from prometheus_client import Counter, Gauge

from core.errors import InvalidRequest

HASH_CONCURRENCY = max(2, os.cpu_count() or 2)
HASHES = Counter("infrence_password_hashes_total", "argon2 computations (hash or verify).", ["op"])
HASHING = Gauge("infrence_password_hashes_running", "argon2 computations running now.")
_T = TypeVar("_T")

MIN_LENGTH = 10
MAX_LENGTH = 256
_COMMON = frozenset(
    line.strip().lower()
    for line in (Path(__file__).parent / "common_passwords.txt").read_text().splitlines()
    if line.strip() and not line.startswith("#")
)


def check_policy(password: str, *, field: str, email: str | None = None) -> None:
    """At least 10 and at most 256 characters, not a well-known password, not the email."""
    if len(password) < MIN_LENGTH:
        raise InvalidRequest(f"Password must be at least {MIN_LENGTH} characters", field=field)
    if len(password) > MAX_LENGTH:
        raise InvalidRequest(f"Password must be at most {MAX_LENGTH} characters", field=field)
    lowered = password.lower()
    if lowered in _COMMON or (email and lowered == email.lower()):
        raise InvalidRequest("Password is too common; choose another", field=field)


class Passwords:
    """argon2id with RFC 9106 parameters; memory cost comes from settings (tests lower it)."""

    def __init__(self, memory_kib: int, concurrency: int = HASH_CONCURRENCY):
        self._hasher = PasswordHasher(time_cost=3, memory_cost=memory_kib, parallelism=4)
        self._dummy_hash = self._hasher.hash("dummy password for unknown accounts")
        # Its own pool of `concurrency` threads is the semaphore: extra calls wait in its queue
        # without holding a thread, and it works from any event loop (this object is cached
        # per process, and tests run many loops).
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="argon2")

    async def hash(self, password: str) -> str:
        HASHES.labels(op="hash").inc()
        return await self._bounded(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """True when `password` matches; with no hash (unknown user) still costs one hash."""
        HASHES.labels(op="verify").inc()
        return await self._bounded(self._verify, password_hash, password)

    async def _bounded(self, work: Callable[..., _T], *args: object) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._counted, work, *args)

    @staticmethod
    def _counted(work: Callable[..., _T], *args: object) -> _T:
        with HASHING.track_inprogress():
            return work(*args)

    def _verify(self, password_hash: str | None, password: str) -> bool:
        try:
            return (
                self._hasher.verify(password_hash or self._dummy_hash, password) and password_hash is not None
            )
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)


@lru_cache(maxsize=4)
def passwords_for(memory_kib: int) -> Passwords:
    """One hasher (and one bounded pool) per cost setting per process; building one computes
    the dummy hash."""
    return Passwords(memory_kib)
