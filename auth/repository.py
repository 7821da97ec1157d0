"""SQL of the accounts domain: users, sessions (refresh tokens), email tokens, API keys."""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from auth.models import ApiKey, Caller, RefreshToken, User
from ledger.buckets import Buckets

_USER_COLUMNS = """u.id, u.email, u.first_name, u.last_name, u.email_verified_at IS NOT NULL AS email_verified,
    u.marketing_emails_enabled, u.is_admin, u.suspended_at, u.created_at, u.stripe_customer_id"""

INSERT_USER = f"""
INSERT INTO users AS u (email, password_hash, first_name, last_name)
VALUES (%(email)s, %(password_hash)s, %(first_name)s, %(last_name)s)
ON CONFLICT (email) DO NOTHING
RETURNING {_USER_COLUMNS}"""

USER_BY_ID = f"SELECT {_USER_COLUMNS} FROM users u WHERE u.id = %(user_id)s"

CREDENTIALS_BY_EMAIL = f"SELECT {_USER_COLUMNS}, u.password_hash FROM users u WHERE u.email = %(email)s"

PASSWORD_HASH_BY_ID = "SELECT password_hash FROM users WHERE id = %(user_id)s"

# The user behind an access token, only while its session (refresh family) is still alive.
SESSION_USER = f"""
SELECT {_USER_COLUMNS} FROM users u
WHERE u.id = %(user_id)s
  AND EXISTS (SELECT 1 FROM refresh_tokens r
              WHERE r.family_id = %(session_id)s AND r.user_id = u.id
                AND r.revoked_at IS NULL AND r.expires_at > now())"""

SET_PASSWORD = "UPDATE users SET password_hash = %(password_hash)s, updated_at = now() WHERE id = %(user_id)s"

MARK_VERIFIED = """
UPDATE users SET email_verified_at = now(), updated_at = now()
WHERE id = %(user_id)s AND email_verified_at IS NULL"""

UPDATE_PROFILE = f"""
UPDATE users u SET first_name = %(first_name)s, last_name = %(last_name)s, updated_at = now()
WHERE u.id = %(user_id)s RETURNING {_USER_COLUMNS}"""

SET_MARKETING = f"""
UPDATE users u SET marketing_emails_enabled = %(enabled)s, updated_at = now()
WHERE u.id = %(user_id)s RETURNING {_USER_COLUMNS}"""

# Webhook secrets are stored sealed (auth/webhook_secrets.py); NULL until first needed.
WEBHOOK_SECRET = "SELECT webhook_secret FROM users WHERE id = %(user_id)s"

SET_WEBHOOK_SECRET = "UPDATE users SET webhook_secret = %(secret)s, updated_at = now() WHERE id = %(user_id)s"

SET_MISSING_WEBHOOK_SECRET = """
UPDATE users SET webhook_secret = %(secret)s, updated_at = now()
WHERE id = %(user_id)s AND webhook_secret IS NULL"""

# A page of stored secrets in id order; `clear_only` skips those already sealed.
WEBHOOK_SECRETS_PAGE = """
SELECT id, webhook_secret FROM users
WHERE webhook_secret IS NOT NULL AND id > %(after)s
  AND (NOT %(clear_only)s OR webhook_secret NOT LIKE 'fernet:%%')
ORDER BY id LIMIT %(limit)s"""

# Only if nobody changed it meanwhile (a rotation wins over a reseal).
RESEAL_WEBHOOK_SECRET = """
UPDATE users SET webhook_secret = %(sealed)s WHERE id = %(user_id)s AND webhook_secret = %(stored)s"""

# Only a change of state matches, so the caller learns whether this call suspended (or restored).
SET_SUSPENDED = """
UPDATE users SET suspended_at = CASE WHEN %(suspended)s THEN now() END, updated_at = now()
WHERE id = %(user_id)s AND (suspended_at IS NULL) = %(suspended)s"""

PROMOTE_TO_ADMIN = f"""
UPDATE users u SET is_admin = true, email_verified_at = coalesce(email_verified_at, now()),
    password_hash = coalesce(%(password_hash)s, password_hash), updated_at = now()
WHERE u.email = %(email)s RETURNING {_USER_COLUMNS}"""

INSERT_REFRESH = """
INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at)
VALUES (%(user_id)s, %(family_id)s, %(token_hash)s, %(expires_at)s)"""

REFRESH_FOR_UPDATE = """
SELECT id, user_id, family_id, expires_at, rotated_at, revoked_at
FROM refresh_tokens WHERE token_hash = %(token_hash)s FOR UPDATE"""

MARK_ROTATED = "UPDATE refresh_tokens SET rotated_at = now() WHERE id = %(id)s"

REVOKE_FAMILY = """
UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = %(family_id)s AND revoked_at IS NULL"""

REVOKE_USER_SESSIONS = """
UPDATE refresh_tokens SET revoked_at = now()
WHERE user_id = %(user_id)s AND revoked_at IS NULL
  AND family_id IS DISTINCT FROM %(keep_family_id)s"""

INSERT_EMAIL_TOKEN = """
INSERT INTO email_tokens (user_id, purpose, token_hash, expires_at)
VALUES (%(user_id)s, %(purpose)s, %(token_hash)s, %(expires_at)s)"""

# Single use and expiry in one statement: two concurrent uses cannot both succeed.
CONSUME_EMAIL_TOKEN = """
UPDATE email_tokens SET used_at = now()
WHERE token_hash = %(token_hash)s AND purpose = %(purpose)s AND used_at IS NULL AND expires_at > now()
RETURNING user_id"""

# The same conditions without spending it: a reset checks its token before any hashing.
VALID_EMAIL_TOKEN_USER = """
SELECT user_id FROM email_tokens
WHERE token_hash = %(token_hash)s AND purpose = %(purpose)s AND used_at IS NULL AND expires_at > now()"""

DELETE_EXPIRED_EMAIL_TOKENS = "DELETE FROM email_tokens WHERE expires_at < now()"
DELETE_STALE_REFRESH_TOKENS = """
DELETE FROM refresh_tokens
WHERE expires_at < now() - %(grace)s OR revoked_at < now() - %(grace)s"""

_KEY_COLUMNS = "id, name, prefix, created_at, last_used_at"

INSERT_API_KEY = f"""
INSERT INTO api_keys (user_id, name, prefix, key_hash) VALUES (%(user_id)s, %(name)s, %(prefix)s, %(key_hash)s)
RETURNING {_KEY_COLUMNS}"""

LIST_API_KEYS = f"""
SELECT {_KEY_COLUMNS} FROM api_keys WHERE user_id = %(user_id)s AND revoked_at IS NULL
ORDER BY created_at DESC, id"""

REVOKE_API_KEY = """
UPDATE api_keys SET revoked_at = now() WHERE id = %(id)s AND user_id = %(user_id)s AND revoked_at IS NULL
RETURNING id"""

RESET_API_KEY = f"""
UPDATE api_keys SET prefix = %(prefix)s, key_hash = %(key_hash)s, last_used_at = NULL
WHERE id = %(id)s AND user_id = %(user_id)s AND revoked_at IS NULL
RETURNING {_KEY_COLUMNS}"""

# The key's owner and, in the same round trip, their account's buckets (no account: nulls).
CALLER_BY_KEY_HASH = f"""
SELECT k.id AS api_key_id, {_USER_COLUMNS},
    a.balance, a.plan_credits, a.overage_credits, a.overage_cap
FROM api_keys k JOIN users u ON u.id = k.user_id
LEFT JOIN credit_accounts a ON a.user_id = u.id
WHERE k.key_hash = %(key_hash)s AND k.revoked_at IS NULL"""

TOUCH_API_KEY = "UPDATE api_keys SET last_used_at = now() WHERE id = %(id)s"


async def _one(conn: AsyncConnection, query: str, params: dict[str, Any]) -> dict | None:
    cur = await conn.execute(query, params)
    return await cur.fetchone()


def _user(row: dict | None) -> User | None:
    return User(**row) if row else None


class AccountRepository:
    """Users and their sessions. Methods take the connection (or open transaction) to use."""

    async def delete_expired_email_tokens(self, conn: AsyncConnection) -> int:
        return (await conn.execute(DELETE_EXPIRED_EMAIL_TOKENS)).rowcount

    async def delete_stale_refresh_tokens(self, conn: AsyncConnection, grace: timedelta) -> int:
        """Expired or revoked longer than `grace` ago (until then a replay is still seen as reuse)."""
        return (await conn.execute(DELETE_STALE_REFRESH_TOKENS, {"grace": grace})).rowcount

    async def insert_user(
        self, conn: AsyncConnection, *, email: str, password_hash: str, first_name: str, last_name: str
    ) -> User | None:
        """The new user, or None when the email is taken."""
        return _user(
            await _one(
                conn,
                INSERT_USER,
                {
                    "email": email,
                    "password_hash": password_hash,
                    "first_name": first_name,
                    "last_name": last_name,
                },
            )
        )

    async def user_by_id(self, conn: AsyncConnection, user_id: UUID) -> User | None:
        return _user(await _one(conn, USER_BY_ID, {"user_id": user_id}))

    async def credentials_by_email(self, conn: AsyncConnection, email: str) -> tuple[User, str] | None:
        row = await _one(conn, CREDENTIALS_BY_EMAIL, {"email": email})
        if row is None:
            return None
        password_hash = row.pop("password_hash")
        return User(**row), password_hash

    async def password_hash(self, conn: AsyncConnection, user_id: UUID) -> str | None:
        row = await _one(conn, PASSWORD_HASH_BY_ID, {"user_id": user_id})
        return row["password_hash"] if row else None

    async def session_user(self, conn: AsyncConnection, user_id: UUID, session_id: UUID) -> User | None:
        return _user(await _one(conn, SESSION_USER, {"user_id": user_id, "session_id": session_id}))

    async def set_password(self, conn: AsyncConnection, user_id: UUID, password_hash: str) -> None:
        await conn.execute(SET_PASSWORD, {"user_id": user_id, "password_hash": password_hash})

    async def mark_verified(self, conn: AsyncConnection, user_id: UUID) -> bool:
        """True the first time only."""
        cur = await conn.execute(MARK_VERIFIED, {"user_id": user_id})
        return cur.rowcount == 1

    async def update_profile(
        self, conn: AsyncConnection, user_id: UUID, first_name: str, last_name: str
    ) -> User:
        return User(
            **await _one(
                conn, UPDATE_PROFILE, {"user_id": user_id, "first_name": first_name, "last_name": last_name}
            )
        )

    async def set_marketing(self, conn: AsyncConnection, user_id: UUID, enabled: bool) -> User:
        return User(**await _one(conn, SET_MARKETING, {"user_id": user_id, "enabled": enabled}))

    async def webhook_secret(self, conn: AsyncConnection, user_id: UUID) -> str | None:
        row = await _one(conn, WEBHOOK_SECRET, {"user_id": user_id})
        return row["webhook_secret"] if row else None

    async def set_webhook_secret(
        self, conn: AsyncConnection, user_id: UUID, sealed: str, *, only_if_missing: bool = False
    ) -> None:
        sql = SET_MISSING_WEBHOOK_SECRET if only_if_missing else SET_WEBHOOK_SECRET
        await conn.execute(sql, {"user_id": user_id, "secret": sealed})

    async def webhook_secrets_page(
        self, conn: AsyncConnection, *, after: UUID, clear_only: bool, limit: int
    ) -> list[dict]:
        cur = await conn.execute(
            WEBHOOK_SECRETS_PAGE, {"after": after, "clear_only": clear_only, "limit": limit}
        )
        return await cur.fetchall()

    async def reseal_webhook_secret(
        self, conn: AsyncConnection, user_id: UUID, *, stored: str, sealed: str
    ) -> bool:
        cur = await conn.execute(
            RESEAL_WEBHOOK_SECRET, {"user_id": user_id, "stored": stored, "sealed": sealed}
        )
        return cur.rowcount == 1

    async def set_suspended(self, conn: AsyncConnection, user_id: UUID, suspended: bool) -> bool:
        """Suspend or restore an account (the admin surface); True when this call changed it."""
        cur = await conn.execute(SET_SUSPENDED, {"user_id": user_id, "suspended": suspended})
        return cur.rowcount == 1

    async def promote_to_admin(
        self, conn: AsyncConnection, email: str, password_hash: str | None
    ) -> User | None:
        return _user(await _one(conn, PROMOTE_TO_ADMIN, {"email": email, "password_hash": password_hash}))

    async def insert_refresh_token(
        self,
        conn: AsyncConnection,
        *,
        user_id: UUID,
        family_id: UUID,
        token_hash: bytes,
        expires_at: datetime,
    ) -> None:
        await conn.execute(
            INSERT_REFRESH,
            {"user_id": user_id, "family_id": family_id, "token_hash": token_hash, "expires_at": expires_at},
        )

    async def refresh_token_for_update(self, conn: AsyncConnection, token_hash: bytes) -> RefreshToken | None:
        row = await _one(conn, REFRESH_FOR_UPDATE, {"token_hash": token_hash})
        return RefreshToken(**row) if row else None

    async def mark_rotated(self, conn: AsyncConnection, token_id: UUID) -> None:
        await conn.execute(MARK_ROTATED, {"id": token_id})

    async def revoke_family(self, conn: AsyncConnection, family_id: UUID) -> None:
        await conn.execute(REVOKE_FAMILY, {"family_id": family_id})

    async def revoke_user_sessions(
        self, conn: AsyncConnection, user_id: UUID, keep_family_id: UUID | None = None
    ) -> None:
        await conn.execute(REVOKE_USER_SESSIONS, {"user_id": user_id, "keep_family_id": keep_family_id})

    async def insert_email_token(
        self, conn: AsyncConnection, *, user_id: UUID, purpose: str, token_hash: bytes, expires_at: datetime
    ) -> None:
        await conn.execute(
            INSERT_EMAIL_TOKEN,
            {"user_id": user_id, "purpose": purpose, "token_hash": token_hash, "expires_at": expires_at},
        )

    async def consume_email_token(
        self, conn: AsyncConnection, purpose: str, token_hash: bytes
    ) -> UUID | None:
        row = await _one(conn, CONSUME_EMAIL_TOKEN, {"purpose": purpose, "token_hash": token_hash})
        return row["user_id"] if row else None

    async def email_token_user(self, conn: AsyncConnection, purpose: str, token_hash: bytes) -> UUID | None:
        """Whose live token this is, without spending it."""
        row = await _one(conn, VALID_EMAIL_TOKEN_USER, {"purpose": purpose, "token_hash": token_hash})
        return row["user_id"] if row else None


class ApiKeyRepository:
    async def insert(
        self, conn: AsyncConnection, *, user_id: UUID, name: str, prefix: str, key_hash: bytes
    ) -> ApiKey:
        return ApiKey(
            **await _one(
                conn,
                INSERT_API_KEY,
                {"user_id": user_id, "name": name, "prefix": prefix, "key_hash": key_hash},
            )
        )

    async def list_active(self, conn: AsyncConnection, user_id: UUID) -> list[ApiKey]:
        cur = await conn.execute(LIST_API_KEYS, {"user_id": user_id})
        return [ApiKey(**row) for row in await cur.fetchall()]

    async def revoke(self, conn: AsyncConnection, user_id: UUID, key_id: UUID) -> bool:
        return await _one(conn, REVOKE_API_KEY, {"user_id": user_id, "id": key_id}) is not None

    async def replace_secret(
        self, conn: AsyncConnection, user_id: UUID, key_id: UUID, *, prefix: str, key_hash: bytes
    ) -> ApiKey | None:
        row = await _one(
            conn, RESET_API_KEY, {"user_id": user_id, "id": key_id, "prefix": prefix, "key_hash": key_hash}
        )
        return ApiKey(**row) if row else None

    async def caller_by_hash(self, conn: AsyncConnection, key_hash: bytes) -> Caller | None:
        row = await _one(conn, CALLER_BY_KEY_HASH, {"key_hash": key_hash})
        if row is None:
            return None
        api_key_id = row.pop("api_key_id")
        buckets = Buckets(*(row.pop(f.name) or 0 for f in fields(Buckets)))
        return Caller(user=User(**row), api_key_id=api_key_id, buckets=buckets)

    async def touch(self, conn: AsyncConnection, key_id: UUID) -> None:
        await conn.execute(TOUCH_API_KEY, {"id": key_id})
