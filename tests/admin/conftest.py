"""Admin test helpers: an admin and members opened through the front door, and a staff desk
that reads what the admin surface wrote (audit rows, outbox mail, the ledger)."""

from __future__ import annotations

import httpx
import pytest

from tests.accounts import Account, open_account


@pytest.fixture
async def admin(client, app) -> Account:
    """A signed-up user promoted the way `infrence admin create` does it."""
    from auth.repository import AccountRepository

    account = await open_account(client, app.state.db, credits=0)
    async with app.state.db.connection() as conn:
        await AccountRepository().promote_to_admin(conn, account.email, None)
    return account


@pytest.fixture
async def member(client, app) -> Account:
    return await open_account(client, app.state.db, credits=1000, verified=True)


async def audit_actions(app, target_id) -> list[str]:
    async with app.state.db.connection() as conn:
        cur = await conn.execute(
            "SELECT action FROM admin_audit_log WHERE target_id = %s ORDER BY created_at", (str(target_id),)
        )
        return [row["action"] for row in await cur.fetchall()]


async def outbox(app, to: str) -> list[dict]:
    async with app.state.db.connection() as conn:
        cur = await conn.execute(
            "SELECT template, subject, text_body FROM mail_outbox WHERE to_address = %s ORDER BY created_at",
            (to,),
        )
        return await cur.fetchall()


async def submit_job(client: httpx.AsyncClient, account: Account, mode: str = "lite") -> dict:
    response = await client.post(
        "/v1/research",
        json={"question": "What is PostgreSQL?", "mode": mode, "async": True},
        headers=account.key,
    )
    assert response.status_code == 202, response.text
    return response.json()
