"""Subscription events that must change nothing, or change it once: invoices that bill no
subscription or no customer of ours, a failed payment reported after its retry was paid, a
period sweep hit by a lost connection, overage kept while Stripe is not configured."""

from __future__ import annotations

import asyncio
import copy

from billing.stripe_objects import cents
from billing.subscriptions import Subscriptions, run_period_sweeps
from ledger import LedgerService
from ledger.check import check_ledger
from tests.billing.flows import deliver_all, ledger_of, row_counts, subscribe
from tests.billing.test_credit_buckets import Jobs, buckets, buckets_of
from tests.billing.test_plan_entitlement import stored_event, subscription_row
from tests.billing.test_plan_expiry import _plan_credits_are, period_end_of
from tests.clock import PinnedClock
from tests.outages import cut_connections_waiting_on, holding
from tests.outbox.conftest import eventually


async def test_invoices_that_bill_no_subscription_of_ours_change_nothing(
    client, db, fake_stripe, customer, admin
):
    """A one-off invoice (no subscription), paid or failed, and a renewal for a customer we do
    not know: each is stored and handled without error, and no money table moves."""
    subscription_id = await subscribe(fake_stripe, client, customer)
    [_, renewal] = fake_stripe.renew_subscription(subscription_id)
    one_off = copy.deepcopy(renewal["data"]["object"])
    del one_off["parent"]
    stranger = copy.deepcopy(renewal["data"]["object"])
    stranger["customer"] = "cus_not_ours"
    events = [
        fake_stripe.event("invoice.paid", one_off),
        fake_stripe.event("invoice.payment_failed", one_off),
        fake_stripe.event("invoice.paid", stranger),
    ]
    before = await row_counts(db)

    await deliver_all(fake_stripe, client, events)

    assert await row_counts(db) == {**before, "stripe_events": before["stripe_events"] + 3}
    for event in events:
        assert (await stored_event(client, admin, event["id"]))["last_error"] is None
    assert await buckets_of(client, customer) == buckets(plan=3500, purchased=0, overage=0, cap=3500)
    assert (await subscription_row(db))["status"] == "active"


async def test_a_payment_failure_reported_after_its_retry_was_paid_changes_nothing(
    client, db, fake_stripe, customer, admin
):
    """Stripe's events may arrive out of order: the renewal's retry was paid (its credits
    granted); the first attempt's failure, arriving after, neither makes the subscription past
    due nor expires the period that invoice paid for."""
    subscription_id = await subscribe(fake_stripe, client, customer)
    [payment_failed, _] = fake_stripe.fail_renewal(subscription_id)
    paid_on_retry = copy.deepcopy(payment_failed["data"]["object"])
    paid_on_retry.update(status="paid", amount_paid=2900, amount_due=2900)

    await deliver_all(fake_stripe, client, [fake_stripe.event("invoice.paid", paid_on_retry), payment_failed])

    assert (await subscription_row(db))["status"] == "active"
    assert await buckets_of(client, customer) == buckets(plan=3500, purchased=0, overage=0, cap=3500)
    kinds = [(row["kind"], row["delta"]) for row in await ledger_of(client, admin, customer)]
    assert kinds[-2:] == [("plan_expiry", -3500), ("subscription_grant", 3500)]  # the renewal, once
    assert (await check_ledger(db)).clean


async def test_an_invoice_line_in_the_legacy_plan_shape_grants_the_plan_its_amount_names(
    client, db, fake_stripe, customer, admin
):
    """Before API 2025-03-31 a line named its price under `plan` (with `amount`, not
    `unit_amount`): such an invoice still grants the plan whose price it bills, once."""
    subscription_id = await subscribe(fake_stripe, client, customer, "plan_starter")
    [_, renewal] = fake_stripe.renew_subscription(subscription_id)
    [line] = renewal["data"]["object"]["lines"]["data"]
    del line["pricing"]
    line["plan"] = {"id": "plan_legacy_starter", "object": "plan", "amount": 2900}

    await deliver_all(fake_stripe, client, [renewal])

    grants = [
        row["delta"]
        for row in await ledger_of(client, admin, customer)
        if row["kind"] == "subscription_grant"
    ]
    assert grants == [3500, 3500]


def test_a_json_true_is_no_amount_of_cents():
    assert (cents(True), cents(1), cents("2900.0"), cents("29.5")) == (None, 1, 2900, None)


async def test_a_period_sweep_that_loses_its_connection_expires_the_period_on_the_next_one(
    app, client, db, fake_stripe, customer, admin, settings
):
    subscription_id = await subscribe(fake_stripe, client, customer, "plan_starter")
    clock = PinnedClock((await period_end_of(db, subscription_id)).timestamp() + 10)  # the period ended
    stop = asyncio.Event()
    sweeping = asyncio.create_task(
        run_period_sweeps(Subscriptions(db, app.state.settings), stop, clock, every_secs=0.05)
    )
    try:
        # The sweep's read of ended periods waits on this lock, and its connection is cut there.
        async with holding(settings.database_url, "LOCK TABLE subscriptions IN ACCESS EXCLUSIVE MODE"):
            await cut_connections_waiting_on(settings.database_url, "FROM subscriptions")
            assert not sweeping.done()  # the sweep survived the lost connection
        await eventually(lambda: _plan_credits_are(client, customer, 0), timeout=30)
    finally:
        stop.set()
        await sweeping
    expiries = [
        row["delta"] for row in await ledger_of(client, admin, customer) if row["kind"] == "plan_expiry"
    ]
    assert expiries == [-3500]  # once
    assert (await check_ledger(db)).clean


async def test_overage_is_kept_unreported_while_stripe_is_not_configured(
    app, client, db, fake_stripe, customer, settings
):
    """A deployment running without Stripe keys keeps the overage it cannot report; once they
    are back, the same job is reported, once."""
    await subscribe(fake_stripe, client, customer, "plan_starter")
    jobs = Jobs(app, customer)
    job = await jobs.reserve(3700)  # 3,500 plan credits and 200 of overage
    await LedgerService(db).settle(customer.user_id, reserved=3700, charged=3600, job_id=job)

    unconfigured = settings.model_copy(update={"stripe_secret_key": ""})
    kept = await Subscriptions(db, unconfigured).report_overage(customer.user_id, job, 3600)
    assert (kept.overage_credits, kept.reported_at) == (100, None)
    assert fake_stripe.meter_event_posts == []

    reported = await Subscriptions(db, settings).report_overage(customer.user_id, job, 3600)
    again = await Subscriptions(db, settings).report_overage(customer.user_id, job, 3600)
    assert reported.reported_at is not None and again.reported_at == reported.reported_at
    [event] = fake_stripe.meter_event_posts
    assert (event["identifier"], event["payload"]["value"]) == (f"overage:{job}", "100")
