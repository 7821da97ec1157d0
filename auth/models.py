"""Row models of the accounts domain, shared with every package that serves a signed-in user."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from ledger.buckets import Buckets


@dataclass(frozen=True)
class User:
    id: UUID
    email: str
    first_name: str
    last_name: str
    email_verified: bool
    marketing_emails_enabled: bool
    is_admin: bool
    suspended_at: datetime | None
    created_at: datetime
    stripe_customer_id: str | None

    @property
    def is_suspended(self) -> bool:
        return self.suspended_at is not None


@dataclass(frozen=True)
class Caller:
    """Who is calling `/v1/*`: the key's owner and the key itself, with the owner's credit
    buckets as read in the same query (all 0 without an account), so a balance read costs no
    second round trip."""

    user: User
    api_key_id: UUID
    buckets: Buckets


@dataclass(frozen=True)
class RefreshToken:
    id: UUID
    user_id: UUID
    family_id: UUID
    expires_at: datetime
    rotated_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class ApiKey:
    id: UUID
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
