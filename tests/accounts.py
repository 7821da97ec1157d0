"""Test helper: open an account through the front door (signup, API key) with some credits."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx

DEFAULT_PASSWORD = "correct horse battery staple"


@dataclass
class Account:
    user_id: uuid.UUID
    email: str
    access_token: str
    api_key: str

    @property
    def jwt(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}

    @property
    def key(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


async def grant_credits(db, user_id: uuid.UUID, credits: int) -> None:
    from ledger.service import LedgerService

    await LedgerService(db).grant(
        user_id, credits, kind="purchase", idempotency_key=f"test-grant:{uuid.uuid4()}", note="test credits"
    )


async def mark_email_verified(db, user_id: uuid.UUID) -> None:
    """As if the verification link had been followed, without its signup grant."""
    async with db.connection() as conn:
        await conn.execute("UPDATE users SET email_verified_at = now() WHERE id = %s", (user_id,))


async def open_account(
    client: httpx.AsyncClient, db, *, credits: int = 1000, email: str | None = None, verified: bool = False
) -> Account:
    email = email or f"user-{uuid.uuid4().hex[:10]}@example.com"
    signup = await client.post("/api/auth/signup", json={"email": email, "password": DEFAULT_PASSWORD})
    assert signup.status_code == 200, signup.text
    body = signup.json()
    user_id = uuid.UUID(body["user"]["id"])
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    key = await client.post("/api/keys", json={"name": "tests"}, headers=headers)
    assert key.status_code == 200, key.text
    if credits:
        await grant_credits(db, user_id, credits)
    if verified:
        await mark_email_verified(db, user_id)
    return Account(user_id, email, body["access_token"], key.json()["plaintext"])


async def balance_of(db, account: Account) -> int:
    from ledger.service import LedgerService

    return await LedgerService(db).balance(account.user_id)
