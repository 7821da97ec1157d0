"""Shared by the money tests: an app wired to the fake Stripe, accounts, and the steps a
customer takes through our API (Checkout, paying it, subscribing), with Stripe's webhooks
delivered signed over real HTTP."""

from __future__ import annotations

import uuid


async def checkout(client, account, item_id: str) -> str:
    """Start a Checkout through our API; the Stripe session id behind the returned URL."""
    response = await client.post("/api/billing/checkout", json={"pack_id": item_id}, headers=account.jwt)
    assert response.status_code == 200, response.text
    return response.json()["url"].rsplit("/", 1)[-1]


async def deliver_all(fake, client, events) -> None:
    for event in events:
        response = await fake.deliver(client, event)
        assert response.status_code == 200, response.text


async def payments(client, account) -> list[dict]:
    response = await client.get("/api/billing/payment-history", headers=account.jwt)
    assert response.status_code == 200, response.text
    return response.json()


async def buy_pack(fake, client, account, pack_id: str = "pack_1000") -> str:
    """Buy a pack all the way (which saves the card); the PaymentIntent id."""
    session_id = await checkout(client, account, pack_id)
    await deliver_all(fake, client, fake.pay_checkout(session_id))
    return fake.checkout_sessions[session_id]["payment_intent"]


async def subscribe(fake, client, account, plan_id: str = "plan_starter") -> str:
    """Subscribe through Checkout and pay the first invoice; the Stripe subscription id."""
    session_id = await checkout(client, account, plan_id)
    assert fake.checkout_sessions[session_id]["mode"] == "subscription"
    await deliver_all(fake, client, fake.pay_checkout(session_id))
    return fake.checkout_sessions[session_id]["subscription"]


async def spend(db, account, credits: int) -> None:
    """A debit the way a research job makes one."""
    from ledger import LedgerService

    await LedgerService(db).reserve(account.user_id, credits, idempotency_key=f"test:{uuid.uuid4()}")


async def ledger_of(client, admin, account) -> list[dict]:
    """The account's ledger as admins see it, oldest first."""
    response = await client.get(f"/api/admin/users/{account.user_id}/ledger?limit=200", headers=admin.jwt)
    assert response.status_code == 200, response.text
    return response.json()[::-1]


async def row_counts(db) -> dict[str, int]:
    """How many rows the money tables hold: a refused request must change none of them."""
    tables = (
        "credit_ledger",
        "credit_accounts",
        "payments",
        "subscriptions",
        "stripe_events",
        "meter_reports",
    )
    async with db.connection() as conn:
        counts = {}
        for table in tables:
            counts[table] = (await (await conn.execute(f"SELECT count(*) AS n FROM {table}")).fetchone())["n"]
        return counts
