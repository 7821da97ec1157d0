"""Access tokens (short-lived HS256 JWTs) and opaque tokens (refresh, email) stored hashed."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import jwt

from core.errors import Unauthorized

ACCESS_TTL = timedelta(minutes=15)
REFRESH_TTL = timedelta(days=30)
VERIFY_TTL = timedelta(hours=24)
RESET_TTL = timedelta(hours=1)

_ALGORITHM = "HS256"
_REQUIRED_CLAIMS = ["sub", "exp", "iat", "jti", "typ", "sid"]


@dataclass(frozen=True)
class AccessClaims:
    user_id: UUID
    session_id: UUID  # the refresh-token family this access token was issued under


class AccessTokens:
    """Issue and check access JWTs. The algorithm is pinned on decode (no `none`, no RS/HS
    confusion); `kid` is an opaque configured name (never derived from the secret, which would
    hand out a hash of it), so a future rotation can keep several keys apart."""

    def __init__(self, secret: str, kid: str):
        self._secret = secret
        self.kid = kid

    def issue(self, user_id: UUID, session_id: UUID) -> str:
        now = datetime.now(UTC)
        claims = {
            "sub": str(user_id),
            "sid": str(session_id),
            "typ": "access",
            "jti": uuid.uuid4().hex,
            "iat": now,
            "exp": now + ACCESS_TTL,
        }
        return jwt.encode(claims, self._secret, algorithm=_ALGORITHM, headers={"kid": self.kid})

    def decode(self, token: str) -> AccessClaims:
        try:
            if jwt.get_unverified_header(token).get("kid") != self.kid:
                raise Unauthorized("Invalid access token")
            claims = jwt.decode(
                token, self._secret, algorithms=[_ALGORITHM], options={"require": _REQUIRED_CLAIMS}
            )
            if claims["typ"] != "access":
                raise Unauthorized("Invalid access token")
            return AccessClaims(user_id=UUID(claims["sub"]), session_id=UUID(claims["sid"]))
        except jwt.ExpiredSignatureError:
            raise Unauthorized("Access token expired") from None
        except (jwt.PyJWTError, ValueError, TypeError, AttributeError):
            raise Unauthorized("Invalid access token") from None


def new_opaque_token() -> str:
    """256 bits of randomness, URL-safe (refresh tokens, email links)."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> bytes:
    """Only this SHA-256 is stored: a database leak yields no usable token."""
    return hashlib.sha256(token.encode()).digest()
