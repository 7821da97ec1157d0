"""What a subscriber is entitled to comes from what Stripe billed: the invoice line's price,
never the metadata Checkout wrote, and only invoices that open a paid period grant credits."""

from __future__ import annotations

import pytest

from ledger.check import check_ledger
from tests.accounts import balance_of
from tests.billing.flows import deliver_all, ledger_of, payments, spend, subscribe

PLAN_PRICES = {"plan_starter": 2900, "plan_pro": 9900, "plan_scale": 29900}


@pytest.fixture
def price_ids(monkeypatch, fake_stripe) -> dict[str, str]:
    """Plans sold at price ids made in the Stripe dashboard (the portal can only switch
    between such prices), known to the fake with their amounts."""
    ids = {}
    for plan_id, amount in PLAN_PRICES.items():
        price_id = f"price_{plan_id}"
        monkeypatch.setenv(f"STRIPE_PRICE_{plan_id.upper()}", price_id)
        fake_stripe.prices[price_id] = amount
        ids[plan_id] = price_id
    return ids


async def grants(client, admin, account) -> list[int]:
    return [
        row["delta"] for row in await ledger_of(client, admin, account) if row["kind"] == "subscription_grant"
    ]


async def subscription_row(db) -> dict:
    async with db.connection() as conn:
        return await (await conn.execute("SELECT plan_id, status FROM subscriptions")).fetchone()


async def stored_event(client, admin, event_id: str) -> dict:
    response = await client.get("/api/admin/stripe-events", headers=admin.jwt)
    return next(row for row in response.json() if row["id"] == event_id)


async def test_a_portal_downgrade_grants_what_the_new_invoice_bills(
    client, db, fake_stripe, customer, admin, price_ids
):
    subscription_id = await subscribe(fake_stripe, client, customer, "plan_scale")
    assert fake_stripe.checkout_sessions  # Checkout sent the configured price id, not an inline one
    assert fake_stripe.subscriptions[subscription_id]["metadata"]["plan_id"] == "plan_scale"
    assert await balance_of(db, customer) == 40_000

    await deliver_all(
        fake_stripe, client, fake_stripe.change_plan(subscription_id, price_ids["plan_starter"])
    )
    await deliver_all(fake_stripe, client, fake_stripe.renew_subscription(subscription_id))

    grants = [
        row["delta"]
        for row in await ledger_of(client, admin, customer)
        if row["kind"] == "subscription_grant"
    ]
    assert grants == [40_000, 3_500]  # the $29 invoice grants Starter's 3,500, not Scale's 40,000
    assert (await subscription_row(db))["plan_id"] == "plan_starter"
    history = [
        (p["kind"], p["pack_id"], p["pack_amount_cents"], p["pack_credits"])
        for p in await payments(client, customer)
    ]
    assert history == [
        ("subscription", "plan_starter", 2900, 3500),
        ("subscription", "plan_scale", 29900, 40000),
    ]
    assert (await check_ledger(db)).clean


async def test_an_inline_price_is_matched_by_its_amount_whatever_the_metadata_says(
    client, fake_stripe, customer, admin
):
    subscription_id = await subscribe(fake_stripe, client, customer, "plan_starter")  # no price ids set
    fake_stripe.subscriptions[subscription_id]["metadata"]["plan_id"] = "plan_scale"

    await deliver_all(fake_stripe, client, fake_stripe.renew_subscription(subscription_id))

    assert await grants(client, admin, customer) == [3500, 3500]


async def test_an_invoice_for_a_price_no_plan_has_grants_nothing_and_tells_admins(
    client, db, fake_stripe, customer, admin, price_ids
):
    subscription_id = await subscribe(fake_stripe, client, customer, "plan_pro")
    fake_stripe.prices["price_legacy"] = 4900
    await deliver_all(fake_stripe, client, fake_stripe.change_plan(subscription_id, "price_legacy"))

    [_, invoice] = fake_stripe.renew_subscription(subscription_id)
    await deliver_all(fake_stripe, client, [invoice])

    assert await balance_of(db, customer) == 12_500  # the first invoice's grant only
    assert "bills no price of a plan" in (await stored_event(client, admin, invoice["id"]))["last_error"]


async def test_a_zero_dollar_invoice_grants_nothing(client, fake_stripe, customer, admin):
    subscription_id = await subscribe(fake_stripe, client, customer)

    await deliver_all(fake_stripe, client, fake_stripe.renew_subscription(subscription_id, amount_paid=0))

    assert await grants(client, admin, customer) == [3500]
    latest = (await payments(client, customer))[0]
    assert (latest["kind"], latest["pack_amount_cents"], latest["pack_credits"]) == ("subscription", 0, 0)


async def test_a_proration_invoice_grants_nothing(client, db, fake_stripe, customer, price_ids):
    subscription_id = await subscribe(fake_stripe, client, customer, "plan_starter")

    upgrade = fake_stripe.change_plan(subscription_id, price_ids["plan_pro"], proration_cents=4667)
    await deliver_all(fake_stripe, client, upgrade)

    assert await balance_of(db, customer) == 3500
    assert (await subscription_row(db))["plan_id"] == "plan_pro"  # from the subscription's new price
    latest = (await payments(client, customer))[0]
    assert (latest["kind"], latest["status"], latest["pack_amount_cents"], latest["pack_credits"]) == (
        "subscription",
        "succeeded",
        4667,
        0,
    )


async def test_a_failed_renewal_makes_the_subscription_past_due_and_grants_nothing(
    client, db, fake_stripe, customer, admin
):
    subscription_id = await subscribe(fake_stripe, client, customer)
    payment_failed, _ = fake_stripe.fail_renewal(subscription_id)

    await deliver_all(fake_stripe, client, [payment_failed])  # alone: the status comes from it

    assert (await subscription_row(db))["status"] == "past_due"
    assert await grants(client, admin, customer) == [3500]


async def test_a_refunded_invoice_claws_back_its_grant(client, db, fake_stripe, customer, admin):
    subscription_id = await subscribe(fake_stripe, client, customer)
    [_, renewal] = fake_stripe.renew_subscription(subscription_id)
    await deliver_all(fake_stripe, client, [renewal])
    assert await balance_of(db, customer) == 3500  # the renewal's grant (the first one expired)

    await deliver_all(fake_stripe, client, [fake_stripe.refund(fake_stripe.invoice_intent(renewal))])

    assert await balance_of(db, customer) == 0
    clawbacks = [
        row["delta"] for row in await ledger_of(client, admin, customer) if row["kind"] == "clawback"
    ]
    assert clawbacks == [-3500]
    assert (await payments(client, customer))[0]["status"] == "refunded"


async def test_a_clawback_of_spent_credits_records_the_shortfall_and_flags_the_account(
    client, db, fake_stripe, customer
):
    subscription_id = await subscribe(fake_stripe, client, customer)
    [_, renewal] = fake_stripe.renew_subscription(subscription_id)
    await deliver_all(fake_stripe, client, [renewal])
    await spend(db, customer, 2500)  # 1,000 left of the renewal's 3,500

    await deliver_all(fake_stripe, client, [fake_stripe.lose_dispute(fake_stripe.invoice_intent(renewal))])

    assert await balance_of(db, customer) == 0
    async with db.connection() as conn:
        payment = await (
            await conn.execute(
                "SELECT clawback_shortfall_credits FROM payments WHERE stripe_invoice_id = %s",
                (renewal["data"]["object"]["id"],),
            )
        ).fetchone()
        user = await (
            await conn.execute(
                "SELECT flagged_at, flagged_reason FROM users WHERE id = %s", (customer.user_id,)
            )
        ).fetchone()
    assert payment["clawback_shortfall_credits"] == 2500
    assert user["flagged_at"] is not None and "2500 credits" in user["flagged_reason"]
    assert (await check_ledger(db)).clean
