"""argon2id password hashing and the password policy.

Hashing runs in a worker thread so a login never stalls the event loop. A login for an unknown
email verifies against a dummy hash, so both branches cost one hash (no timing oracle).
"""

from __future__ import annotations

import asyncio
from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from core.errors import InvalidRequest

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

    def __init__(self, memory_kib: int):
        self._hasher = PasswordHasher(time_cost=3, memory_cost=memory_kib, parallelism=4)
        self._dummy_hash = self._hasher.hash("dummy password for unknown accounts")

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """True when `password` matches; with no hash (unknown user) still costs one hash."""
        return await asyncio.to_thread(self._verify, password_hash, password)

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
    """One hasher per cost setting per process (building one computes the dummy hash)."""
    return Passwords(memory_kib)
