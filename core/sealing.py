"""Secrets a job needs while it runs (an MCP connector's headers), sealed with AES-GCM under a
key derived from JWT_SECRET, so the job row never holds them in clear and a database dump alone
does not reveal them. Rotating JWT_SECRET makes sealed values of running jobs unreadable."""

from __future__ import annotations

import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NONCE_BYTES = 12


def _key(secret: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"infrence job secrets").derive(
        secret.encode()
    )


def seal(secret: str, value: Any) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(_key(secret)).encrypt(nonce, json.dumps(value).encode(), None)


def unseal(secret: str, sealed: bytes) -> Any | None:
    """The sealed value, or None when it was sealed under another key (or tampered with)."""
    try:
        return json.loads(AESGCM(_key(secret)).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], None))
    except (InvalidTag, ValueError):
        return None
