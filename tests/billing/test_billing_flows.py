"""Money flows end to end: our API and the real `stripe` client against a fake Stripe over
HTTP, with webhooks signed the way Stripe signs them."""

from __future__ import annotations

import asyncio
import uuid

from billing.topup import maybe_auto_topup
from ledger.check import check_ledger
from tests.accounts import balance_of
from tests.billing.flows import buy_pack, checkout, deliver_all, ledger_of, payments, spend, subscribe

# -- packs -------------------------------------------------------------------------------------


async def test_a_paid_checkout_credits_the_pack_once_however_often_it_is_delivered_or_replayed(
    client, db, fake_stripe, customer, admin
):
    session_id = await checkout(client, customer, "pack_1000")
    assert await balance_of(db, customer) == 0  # a redirect never credits
    session = fake_stripe.checkout_sessions[session_id]
    assert session["mode"] == "payment"
    assert session["payment_intent_data"]["setup_future_usage"] == "off_session"

    [completed] = fake_stripe.pay_checkout(session_id)
    for _ in range(2):
        assert (await fake_stripe.deliver(client, completed)).status_code == 200
    replay = await client.post(f"/api/admin/stripe-events/{completed['id']}/replay", headers=admin.jwt)

    assert replay.status_code == 200, replay.text
    assert replay.json()["processed_at"] is not None
    assert await balance_of(db, customer) == 1000
    [payment] = await payments(client, customer)
    assert payment["status"] == "succeeded" and payment["completed_at"] is not None
    assert (payment["pack_credits"], payment["pack_amount_cents"]) == (1000, 1000)
    assert (await check_ledger(db)).clean


async def test_one_stripe_customer_per_user_and_payment_history_newest_first(
    client, db, fake_stripe, customer
):
    await checkout(client, customer, "pack_1000")
    await checkout(client, customer, "pack_5500")

    assert len(fake_stripe.customers) == 1
    history = await payments(client, customer)
    assert [p["pack_credits"] for p in history] == [5500, 1000]
    assert {p["status"] for p in history} == {"pending"}


async def test_a_delayed_payment_credits_only_once_it_settles(client, db, fake_stripe, customer):
    session_id = await checkout(client, customer, "pack_5500")
    await deliver_all(fake_stripe, client, fake_stripe.pay_checkout(session_id, paid=False))
    assert await balance_of(db, customer) == 0

    await deliver_all(fake_stripe, client, [fake_stripe.settle_async_payment(session_id, succeeded=True)])

    assert await balance_of(db, customer) == 5500


async def test_failed_and_expired_checkouts_credit_nothing(client, db, fake_stripe, customer):
    failing = await checkout(client, customer, "pack_1000")
    await deliver_all(fake_stripe, client, fake_stripe.pay_checkout(failing, paid=False))
    await deliver_all(fake_stripe, client, [fake_stripe.settle_async_payment(failing, succeeded=False)])
    abandoned = await checkout(client, customer, "pack_1000")
    await deliver_all(fake_stripe, client, [fake_stripe.expire_checkout(abandoned)])

    assert sorted(p["status"] for p in await payments(client, customer)) == ["expired", "failed"]
    assert await balance_of(db, customer) == 0


async def test_refunds_claw_back_unspent_credits_once(client, db, fake_stripe, customer):
    intent_id = await buy_pack(fake_stripe, client, customer, "pack_1000")  # 1000 credits for $10

    half = fake_stripe.refund(intent_id, 500)
    await deliver_all(fake_stripe, client, [half, half])
    assert await balance_of(db, customer) == 500

    await deliver_all(fake_stripe, client, [fake_stripe.refund(intent_id)])
    assert await balance_of(db, customer) == 0
    [payment] = await payments(client, customer)
    assert payment["status"] == "refunded" and payment["refunded_cents"] == 1000
    assert (await check_ledger(db)).clean


async def test_a_pack_refunded_in_three_parts_claws_back_each_share_and_exactly_the_pack(
    client, db, fake_stripe, customer, admin
):
    intent_id = await buy_pack(fake_stripe, client, customer, "pack_5500")  # 5,500 credits for $50

    for cents in (333, 333, None):  # $3.33, $3.33, then the rest
        await deliver_all(fake_stripe, client, [fake_stripe.refund(intent_id, cents)])

    clawbacks = [
        row["delta"] for row in await ledger_of(client, admin, customer) if row["kind"] == "clawback"
    ]
    assert clawbacks == [-366, -366, -4768]  # 5500*333//5000, then 5500*666//5000 - 366, then the rest
    assert -sum(clawbacks) == 5500 and await balance_of(db, customer) == 0
    [payment] = await payments(client, customer)
    assert (payment["status"], payment["refunded_cents"]) == ("refunded", 5000)
    assert (await check_ledger(db)).clean


async def test_a_refund_never_takes_the_balance_below_zero(client, db, fake_stripe, customer):
    from ledger import LedgerService

    intent_id = await buy_pack(fake_stripe, client, customer, "pack_1000")
    await LedgerService(db).reserve(customer.user_id, 900, idempotency_key=f"test:{uuid.uuid4()}")

    await deliver_all(fake_stripe, client, [fake_stripe.refund(intent_id)])

    assert await balance_of(db, customer) == 0
    assert (await check_ledger(db)).clean


async def test_a_dispute_flags_the_account_for_admins(client, db, fake_stripe, customer):
    intent_id = await buy_pack(fake_stripe, client, customer)

    await deliver_all(fake_stripe, client, [fake_stripe.dispute(intent_id)])

    async with db.connection() as conn:
        row = await (
            await conn.execute(
                "SELECT flagged_at, flagged_reason FROM users WHERE id = %s", (customer.user_id,)
            )
        ).fetchone()
    assert row["flagged_at"] is not None and "fraudulent" in row["flagged_reason"]


# -- auto top-up -------------------------------------------------------------------------------


async def enable_auto_topup(client, account, *, threshold: int, pack_id: str = "pack_1000") -> None:
    response = await client.put(
        "/api/billing/auto-topup",
        headers=account.jwt,
        json={"enabled": True, "threshold_credits": threshold, "pack_id": pack_id},
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"enabled": True, "threshold_credits": threshold, "pack_id": pack_id}
    assert await auto_topup_of(client, account) == response.json()


async def auto_topup_of(client, account) -> dict:
    """Auto top-up as stored, read back through the API."""
    response = await client.get("/api/billing/auto-topup", headers=account.jwt)
    assert response.status_code == 200, response.text
    return response.json()


async def test_auto_top_up_is_off_until_set_and_reads_back_what_was_stored(client, customer):
    assert await auto_topup_of(client, customer) == {
        "enabled": False,
        "threshold_credits": 0,
        "pack_id": None,
    }
    await enable_auto_topup(client, customer, threshold=700, pack_id="pack_5500")

    response = await client.put(
        "/api/billing/auto-topup",
        headers=customer.jwt,
        json={"enabled": False, "threshold_credits": 100, "pack_id": "pack_1000"},
    )

    stored = {"enabled": False, "threshold_credits": 100, "pack_id": "pack_1000"}
    assert response.json() == stored and await auto_topup_of(client, customer) == stored


async def test_auto_top_up_charges_the_saved_card_once_and_credits_on_the_webhook(
    client, db, app, fake_stripe, customer
):
    await buy_pack(fake_stripe, client, customer)  # saves the card
    await enable_auto_topup(client, customer, threshold=500)
    await spend(db, customer, 700)  # 1000 -> 300, below 500

    first, second = await asyncio.gather(
        *(
            maybe_auto_topup(db, app.state.settings, customer.user_id, mailer=app.state.mailer)
            for _ in range(2)
        )
    )

    [topup] = [p for p in (first, second) if p is not None]  # at most one pending
    intents = [i for i in fake_stripe.payment_intents.values() if i["metadata"].get("kind") == "auto_topup"]
    [intent] = intents
    assert intent["status"] == "succeeded" and intent["payment_method"] is not None
    assert await balance_of(db, customer) == 300  # not before the webhook
    await deliver_all(fake_stripe, client, fake_stripe.events_for_intent(intent["id"]) * 2)

    assert await balance_of(db, customer) == 1300
    latest = (await payments(client, customer))[0]
    assert (latest["id"], latest["kind"], latest["status"]) == (str(topup.id), "auto_topup", "succeeded")
    assert await maybe_auto_topup(db, app.state.settings, customer.user_id) is None  # back above


async def test_a_declined_top_up_turns_auto_top_up_off_and_emails_the_user_once(
    client, db, app, fake_stripe, customer
):
    await buy_pack(fake_stripe, client, customer)
    await enable_auto_topup(client, customer, threshold=2000)
    [customer_id] = fake_stripe.customers
    fake_stripe.decline_cards_of(customer_id)

    await spend(db, customer, 100)
    topup = await maybe_auto_topup(db, app.state.settings, customer.user_id, mailer=app.state.mailer)
    [declined] = [i for i in fake_stripe.payment_intents.values() if i["status"] == "requires_payment_method"]
    await deliver_all(fake_stripe, client, fake_stripe.events_for_intent(declined["id"]))

    latest = (await payments(client, customer))[0]
    assert (latest["id"], latest["status"], latest["failure_reason"]) == (
        str(topup.id),
        "failed",
        "insufficient_funds",
    )
    assert await balance_of(db, customer) == 900
    assert await maybe_auto_topup(db, app.state.settings, customer.user_id) is None  # turned off
    assert (await auto_topup_of(client, customer))["enabled"] is False
    async with db.connection() as conn:
        mails = await (
            await conn.execute(
                "SELECT to_address, text_body FROM mail_outbox WHERE template = %s", ("topup_failed",)
            )
        ).fetchall()
    assert [m["to_address"] for m in mails] == [customer.email]
    assert "insufficient funds" in mails[0]["text_body"]


async def test_a_top_up_stripe_never_answered_about_stops_blocking_the_next_one(
    client, db, app, fake_stripe, customer
):
    await buy_pack(fake_stripe, client, customer)
    await enable_auto_topup(client, customer, threshold=5000)
    first = await maybe_auto_topup(db, app.state.settings, customer.user_id)
    assert await maybe_auto_topup(db, app.state.settings, customer.user_id) is None  # still pending
    async with db.connection() as conn:
        await conn.execute(
            "UPDATE payments SET created_at = now() - interval '2 hours' WHERE id = %s", (first.id,)
        )

    second = await maybe_auto_topup(db, app.state.settings, customer.user_id)

    assert second is not None and second.id != first.id
    statuses = {p["id"]: p["status"] for p in await payments(client, customer)}
    assert (statuses[str(first.id)], statuses[str(second.id)]) == ("failed", "pending")


async def test_without_a_saved_card_a_top_up_fails_turns_itself_off_and_says_why(client, db, app, customer):
    from tests.accounts import grant_credits

    await grant_credits(db, customer.user_id, 100)
    await enable_auto_topup(client, customer, threshold=500)  # never bought a pack: no card

    topup = await maybe_auto_topup(db, app.state.settings, customer.user_id, mailer=app.state.mailer)

    [payment] = await payments(client, customer)
    assert (payment["id"], payment["status"]) == (str(topup.id), "failed")
    assert "no saved card" in payment["failure_reason"]
    assert (await auto_topup_of(client, customer))["enabled"] is False
    assert await balance_of(db, customer) == 100


async def test_while_stripe_is_unreachable_auto_top_up_stays_on_and_the_next_debit_retries(
    client, db, app, fake_stripe, customer
):
    await buy_pack(fake_stripe, client, customer)
    await enable_auto_topup(client, customer, threshold=500)
    await spend(db, customer, 700)
    fake_stripe.unavailable = True

    failed = await maybe_auto_topup(db, app.state.settings, customer.user_id, mailer=app.state.mailer)

    assert (await payments(client, customer))[0]["failure_reason"] == "payment provider unavailable"
    assert (await auto_topup_of(client, customer))["enabled"] is True
    assert await balance_of(db, customer) == 300
    fake_stripe.unavailable = False
    retried = await maybe_auto_topup(db, app.state.settings, customer.user_id, mailer=app.state.mailer)
    [intent] = [i for i in fake_stripe.payment_intents.values() if i["metadata"].get("kind") == "auto_topup"]
    await deliver_all(fake_stripe, client, fake_stripe.events_for_intent(intent["id"]))
    assert retried.id != failed.id and intent["metadata"]["payment_id"] == str(retried.id)
    assert await balance_of(db, customer) == 1300


async def test_a_second_event_about_a_paid_top_up_arriving_later_credits_nothing(
    client, db, app, fake_stripe, customer
):
    await buy_pack(fake_stripe, client, customer)
    await enable_auto_topup(client, customer, threshold=500)
    await spend(db, customer, 700)
    await maybe_auto_topup(db, app.state.settings, customer.user_id)
    [intent] = [i for i in fake_stripe.payment_intents.values() if i["metadata"].get("kind") == "auto_topup"]
    [first] = fake_stripe.events_for_intent(intent["id"])
    await deliver_all(fake_stripe, client, [first])
    assert await balance_of(db, customer) == 1300

    [later] = fake_stripe.events_for_intent(intent["id"])  # same PaymentIntent, a new event id
    await deliver_all(fake_stripe, client, [later])

    assert later["id"] != first["id"]
    assert await balance_of(db, customer) == 1300
    assert (await check_ledger(db)).clean


async def test_auto_top_up_validates_the_pack_and_threshold(client, customer):
    unknown = await client.put(
        "/api/billing/auto-topup",
        headers=customer.jwt,
        json={"enabled": True, "threshold_credits": 100, "pack_id": "plan_pro"},
    )
    negative = await client.put(
        "/api/billing/auto-topup",
        headers=customer.jwt,
        json={"enabled": True, "threshold_credits": -1, "pack_id": "pack_1000"},
    )

    assert unknown.status_code == 400 and unknown.json()["errors"][0]["field"] == "pack_id"
    assert negative.status_code == 400 and "threshold_credits" in negative.json()["detail"]


# -- subscriptions -----------------------------------------------------------------------------


async def test_each_paid_invoice_grants_the_plans_included_credits_once(
    client, db, fake_stripe, customer, admin
):
    subscription_id = await subscribe(fake_stripe, client, customer)  # starter: 3,500 a month
    assert await balance_of(db, customer) == 3500

    renewal = fake_stripe.renew_subscription(subscription_id)
    await deliver_all(fake_stripe, client, renewal + renewal)

    assert await balance_of(db, customer) == 3500  # the first period's credits expired
    kinds = [(row["kind"], row["delta"]) for row in await ledger_of(client, admin, customer)]
    assert kinds == [("subscription_grant", 3500), ("plan_expiry", -3500), ("subscription_grant", 3500)]
    again = await client.post("/api/billing/checkout", json={"pack_id": "plan_pro"}, headers=customer.jwt)
    assert again.status_code == 409  # change plans in the portal
    await deliver_all(fake_stripe, client, [fake_stripe.cancel_subscription(subscription_id)])
    async with db.connection() as conn:
        row = await (await conn.execute("SELECT plan_id, status FROM subscriptions")).fetchone()
    assert (row["plan_id"], row["status"]) == ("plan_starter", "canceled")


# -- portal ------------------------------------------------------------------------------------


async def test_the_portal_needs_a_stripe_customer_first(client, fake_stripe, customer):
    before = await client.post("/api/billing/portal", headers=customer.jwt)
    await checkout(client, customer, "pack_1000")
    after = await client.post("/api/billing/portal", headers=customer.jwt)

    assert before.status_code == 400 and before.json()["code"] == "no_billing_account"
    assert after.status_code == 200 and after.json()["url"].startswith("https://billing.stripe.test/")
