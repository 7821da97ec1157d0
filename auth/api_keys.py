"""API keys: `ifr_` + 32 random base62 characters + a 6-character base62 CRC32 of them.

Only the SHA-256 of a key is stored; the plaintext is shown once. The checksum lets us refuse
mistyped or made-up keys without a database round trip (and lets secret scanners recognise
real ones). `last_used_at` is written at most once a minute per key and process, debounced in
memory so an authenticated request costs one database round trip and no Redis one.
"""

from __future__ import annotations

import hashlib
import secrets
import string
import time
import zlib
from dataclasses import dataclass
from uuid import UUID

from redis.asyncio import Redis

from auth.models import ApiKey, Caller, User
from auth.repository import ApiKeyRepository
from core.db import Database
from core.errors import AccountSuspended, NotFound, Unauthorized
from core.ratelimit import RateLimiter

KEY_PREFIX = "ifr_"
_ALPHABET = string.digits + string.ascii_letters
_RANDOM_CHARS = 32
_CHECKSUM_CHARS = 6
_DISPLAY_CHARS = len(KEY_PREFIX) + 8
DEFAULT_NAME = "Default"
LAST_USED_DEBOUNCE_SECS = 60
_LAST_TOUCHED_MAX_KEYS = 10_000
_last_touched: dict[UUID, float] = {}  # api key id -> monotonic time of this process's last write


def _touch_due(api_key_id: UUID) -> bool:
    """True at most once per debounce window per key in this process (memory stays bounded)."""
    now = time.monotonic()
    if now - _last_touched.get(api_key_id, -LAST_USED_DEBOUNCE_SECS) < LAST_USED_DEBOUNCE_SECS:
        return False
    if len(_last_touched) >= _LAST_TOUCHED_MAX_KEYS:
        _last_touched.clear()
    _last_touched[api_key_id] = now
    return True


KEYS_ISSUED_PER_USER_PER_HOUR = 20  # creations and resets together


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        digits.append(_ALPHABET[digit])
    return "".join(reversed(digits))


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), _CHECKSUM_CHARS)


def new_key() -> str:
    body = "".join(secrets.choice(_ALPHABET) for _ in range(_RANDOM_CHARS))
    return f"{KEY_PREFIX}{body}{_checksum(body)}"


def is_well_formed(key: str) -> bool:
    if not key.startswith(KEY_PREFIX) or len(key) != len(KEY_PREFIX) + _RANDOM_CHARS + _CHECKSUM_CHARS:
        return False
    body, checksum = key[len(KEY_PREFIX) : -_CHECKSUM_CHARS], key[-_CHECKSUM_CHARS:]
    # ASCII letters and digits are exactly the base62 alphabet (a per-character test costs 10x)
    return body.isascii() and body.isalnum() and secrets.compare_digest(checksum, _checksum(body))


def key_hash(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def display_prefix(key: str) -> str:
    return key[:_DISPLAY_CHARS]


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    plaintext: str


class ApiKeyService:
    def __init__(
        self,
        db: Database,
        redis: Redis,
        repository: ApiKeyRepository | None = None,
        limits: RateLimiter | None = None,
    ):
        self.db = db
        self.redis = redis
        self.keys = repository or ApiKeyRepository()
        self.limits = limits or RateLimiter(redis)

    async def _limit_issuing(self, user: User) -> None:
        """Every new secret is a row and a hash: a script must not mint them without end."""
        await self.limits.enforce(f"api-keys:user:{user.id}", KEYS_ISSUED_PER_USER_PER_HOUR, 3600)

    async def create(self, user: User, name: str | None) -> IssuedKey:
        await self._limit_issuing(user)
        plaintext = new_key()
        async with self.db.connection() as conn:
            key = await self.keys.insert(
                conn,
                user_id=user.id,
                name=name or DEFAULT_NAME,
                prefix=display_prefix(plaintext),
                key_hash=key_hash(plaintext),
            )
        return IssuedKey(key, plaintext)

    async def active_keys(self, user: User) -> list[ApiKey]:
        async with self.db.connection() as conn:
            return await self.keys.list_active(conn, user.id)

    async def revoke(self, user: User, key_id: UUID) -> None:
        async with self.db.connection() as conn:
            if not await self.keys.revoke(conn, user.id, key_id):
                raise NotFound("API key not found")

    async def reset(self, user: User, key_id: UUID) -> IssuedKey:
        """Same key id and name, new secret; the old secret stops working at once."""
        await self._limit_issuing(user)
        plaintext = new_key()
        async with self.db.connection() as conn:
            key = await self.keys.replace_secret(
                conn, user.id, key_id, prefix=display_prefix(plaintext), key_hash=key_hash(plaintext)
            )
        if key is None:
            raise NotFound("API key not found")
        return IssuedKey(key, plaintext)

    async def authenticate(self, plaintext: str) -> Caller:
        if not is_well_formed(plaintext):
            raise Unauthorized("Invalid API key")
        async with self.db.connection() as conn:
            caller = await self.keys.caller_by_hash(conn, key_hash(plaintext))
            if caller is None:
                raise Unauthorized("Invalid API key")
            if caller.user.is_suspended:
                raise AccountSuspended()
            if _touch_due(caller.api_key_id):
                await self.keys.touch(conn, caller.api_key_id)
        return caller
