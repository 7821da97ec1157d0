"""Payment events that must change nothing: a paid Checkout, a dispute or a refund for a
payment that is not ours, and refunds Stripe reports late or again after they were taken back."""

from __future__ import annotations

import copy
import uuid

from ledger.check import check_ledger
from tests.accounts import balance_of
from tests.billing.flows import buy_pack, deliver_all, ledger_of, row_counts
from tests.billing.test_plan_entitlement import stored_event


async def test_payment_events_that_are_not_about_our_payments_change_nothing(
    client, db, fake_stripe, customer, admin
):
    intent_id = await buy_pack(fake_stripe, client, customer, "pack_1000")
    first_refund = fake_stripe.refund(intent_id, 300)
    refund = fake_stripe.refund(intent_id, 200)  # half of it refunded by now
    await deliver_all(fake_stripe, client, [refund])
    assert await balance_of(db, customer) == 500
    events = [
        fake_stripe.event(
            "checkout.session.completed",
            {
                "id": "cs_not_ours",
                "object": "checkout.session",
                "payment_status": "paid",
                "payment_intent": "pi_not_ours",
                "metadata": {"payment_id": str(uuid.uuid4())},
            },
        ),
        fake_stripe.event(
            "checkout.session.completed",
            {
                "id": "cs_garbled",
                "object": "checkout.session",
                "payment_status": "paid",
                "payment_intent": "pi_not_ours",
                "metadata": {"payment_id": "not-a-uuid"},
            },
        ),
        fake_stripe.event(
            "charge.dispute.created",
            {
                "id": "dp_not_ours",
                "object": "dispute",
                "payment_intent": "pi_not_ours",
                "reason": "fraudulent",
            },
        ),
        fake_stripe.event(
            "charge.refunded",
            {
                "id": "ch_not_ours",
                "object": "charge",
                "payment_intent": "pi_not_ours",
                "amount_refunded": 500,
            },
        ),
        # The first refund's event, arriving late, and the same half refund reported again
        # (Stripe also sends `charge.refunded` when a refund is updated).
        first_refund,
        fake_stripe.event("charge.refunded", copy.deepcopy(refund["data"]["object"])),
    ]
    before = await row_counts(db)

    await deliver_all(fake_stripe, client, events)

    assert await row_counts(db) == {**before, "stripe_events": before["stripe_events"] + len(events)}
    for event in events:
        assert (await stored_event(client, admin, event["id"]))["last_error"] is None
    assert await balance_of(db, customer) == 500
    clawbacks = [
        row["delta"] for row in await ledger_of(client, admin, customer) if row["kind"] == "clawback"
    ]
    assert clawbacks == [-500]
    async with db.connection() as conn:
        cur = await conn.execute("SELECT flagged_at FROM users WHERE id = %s", (customer.user_id,))
        assert (await cur.fetchone())["flagged_at"] is None
    assert (await check_ledger(db)).clean
