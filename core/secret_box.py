"""Secrets the server must read back (webhook signing secrets), encrypted at rest.

Fernet (from `cryptography`) authenticates what it encrypts, so a tampered value or one sealed
under a key we no longer hold fails loudly instead of opening to garbage. `MultiFernet` opens
with any of several keys and seals with the first: that is key rotation. The current key is
`INFRENCE_SECRET_KEY` (required in production); keys listed in `INFRENCE_SECRET_KEY_PREVIOUS`
still open old values until `infrence secrets reseal` has moved every row to the current key.
In dev, without a key, one is derived from JWT_SECRET so every local process agrees.

Stored values are `fernet:<token>`; a value without the prefix is a clear one from before
encryption, read as is and sealed by the next reseal (every API start runs one).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import Sequence
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from core.settings import Settings

log = logging.getLogger(__name__)

PREFIX = "fernet:"


class UnreadableSecret(RuntimeError):
    """A stored secret no configured key opens (a key left the rotation too early)."""


def new_key() -> str:
    """A fresh key for INFRENCE_SECRET_KEY (`infrence secrets new-key`)."""
    return Fernet.generate_key().decode()


def dev_key(jwt_secret: str) -> str:
    """A key derived from the JWT secret: dev only (production must set its own)."""
    digest = hmac.new(jwt_secret.encode(), b"infrence secret box v1", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()


class SecretBox:
    def __init__(self, key: str, previous: Sequence[str] = ()):
        self._current = Fernet(key)
        self._any = MultiFernet([self._current, *(Fernet(k) for k in previous)])

    def seal(self, secret: str) -> str:
        return PREFIX + self._current.encrypt(secret.encode()).decode()

    def open(self, stored: str) -> str:
        """The clear secret; a legacy clear value passes through."""
        if not stored.startswith(PREFIX):
            return stored
        try:
            return self._any.decrypt(stored.removeprefix(PREFIX).encode()).decode()
        except InvalidToken:
            raise UnreadableSecret("a stored secret opens with none of the configured keys") from None

    def reseal(self, stored: str) -> str | None:
        """The value sealed under the current key, or None when it already is."""
        if stored.startswith(PREFIX):
            try:
                self._current.decrypt(stored.removeprefix(PREFIX).encode())
                return None
            except InvalidToken:
                pass
        return self.seal(self.open(stored))


def secret_box(settings: Settings) -> SecretBox:
    """The box these settings describe (one per distinct configuration, built once)."""
    return _box(settings.secret_key, settings.previous_secret_keys, settings.jwt_secret)


@cache
def _box(key: str | None, previous: tuple[str, ...], jwt_secret: str) -> SecretBox:
    if not key:
        log.warning(
            "INFRENCE_SECRET_KEY is not set: stored secrets are encrypted with a key derived from "
            "JWT_SECRET (dev only; production refuses to start without INFRENCE_SECRET_KEY)"
        )
        key = dev_key(jwt_secret)
    return SecretBox(key, previous)
