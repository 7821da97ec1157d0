"""A subscriber's credits live in buckets: plan credits (per paid period, expiring at its end)
are spent first, then purchased ones, then overage up to a cap; only credits drawn beyond both
buckets reach Stripe's Billing Meter, and a renewal resets the overage."""

from __future__ import annotations

import uuid

import pytest

from billing.repository import BillingRepository
from billing.subscriptions import enqueue_overage_report
from core.errors import InsufficientCredits
from core.outbox import OutboxRepository
from ledger import LedgerService
from ledger.check import check_ledger
from tests.billing.flows import buy_pack, deliver_all, ledger_of, subscribe
from tests.outbox.conftest import eventually


async def buckets_of(client, account) -> dict:
    """What the dashboard shows: the balance and its buckets."""
    response = await client.get("/api/credits/balance", headers=account.jwt)
    assert response.status_code == 200, response.text
    body = response.json()
    return {
        k: body[k] for k in ("credits", "plan_credits", "purchased_credits", "overage_credits", "overage_cap")
    }


def buckets(plan: int, purchased: int, overage: int, cap: int) -> dict:
    return {
        "credits": plan + purchased,
        "plan_credits": plan,
        "purchased_credits": purchased,
        "overage_credits": overage,
        "overage_cap": cap,
    }


class Jobs:
    """Reserve and settle credits the way research jobs do (same ledger keys), then report
    overage the way settlement does."""

    def __init__(self, app, account):
        self.db, self.account = app.state.db, account
        self.ledger = LedgerService(app.state.db)

    async def reserve(self, credits: int) -> uuid.UUID:
        job_id = uuid.uuid4()
        await self.ledger.reserve(
            self.account.user_id, credits, idempotency_key=f"job:{job_id}:reserve", related_id=job_id
        )
        return job_id

    async def settle(self, job_id: uuid.UUID, *, reserved: int, charged: int) -> None:
        """Release the unused part and enqueue the overage report in one transaction."""
        async with self.db.transaction() as tx:
            await self.ledger.settle(
                self.account.user_id, reserved=reserved, charged=charged, job_id=job_id, tx=tx
            )
            await enqueue_overage_report(
                tx, user_id=self.account.user_id, job_id=job_id, credits_charged=charged
            )

    async def report(self, job_id: uuid.UUID, *, reported: bool = True):
        """The job's meter report once the outbox has sent it (or, `reported=False`, once a
        first attempt has failed)."""

        async def ready():
            async with self.db.connection() as conn:
                task = await OutboxRepository().by_key(conn, f"overage:{job_id}")
                report = await BillingRepository().meter_report(conn, job_id)
            if reported:
                return task is not None and task.status == "done" and (report,)
            # a claim counts the attempt before it runs: wait for the attempt to have failed
            failed = task is not None and task.status == "pending" and task.last_error is not None
            return failed and (report,)

        return (await eventually(ready))[0]


@pytest.fixture
def jobs(app, customer) -> Jobs:
    return Jobs(app, customer)


async def test_a_reservation_draws_plan_credits_then_purchased_then_overage(
    client, db, fake_stripe, customer, jobs
):
    await buy_pack(fake_stripe, client, customer, "pack_1000")
    await subscribe(fake_stripe, client, customer, "plan_starter")  # 3,500 a period, overage cap 3,500
    assert await buckets_of(client, customer) == buckets(plan=3500, purchased=1000, overage=0, cap=3500)

    await jobs.reserve(3000)
    assert await buckets_of(client, customer) == buckets(plan=500, purchased=1000, overage=0, cap=3500)
    await jobs.reserve(1200)
    assert await buckets_of(client, customer) == buckets(plan=0, purchased=300, overage=0, cap=3500)
    await jobs.reserve(800)
    assert await buckets_of(client, customer) == buckets(plan=0, purchased=0, overage=500, cap=3500)
    assert (await check_ledger(db)).clean


async def test_what_a_job_did_not_use_goes_back_overage_first_and_only_the_rest_is_metered(
    client, db, fake_stripe, customer, admin, jobs
):
    await buy_pack(fake_stripe, client, customer, "pack_1000")
    await subscribe(fake_stripe, client, customer, "plan_starter")
    first = await jobs.reserve(4000)  # 3,500 plan + 500 purchased
    second = await jobs.reserve(1000)  # 500 purchased + 500 overage

    await jobs.settle(second, reserved=1000, charged=600)  # 400 back: overage
    assert await buckets_of(client, customer) == buckets(plan=0, purchased=0, overage=100, cap=3500)
    await jobs.settle(first, reserved=4000, charged=3000)  # 1,000 back: purchased, then plan

    assert await buckets_of(client, customer) == buckets(plan=500, purchased=500, overage=100, cap=3500)
    first_report, second_report = await jobs.report(first), await jobs.report(second)
    assert (first_report.overage_credits, second_report.overage_credits) == (0, 100)
    [event] = fake_stripe.meter_event_posts
    assert (event["identifier"], event["payload"]["value"]) == (f"overage:{second}", "100")
    await jobs.settle(second, reserved=1000, charged=600)  # a replayed settlement
    assert await jobs.report(second) == second_report
    assert len(fake_stripe.meter_event_posts) == 1
    releases = [
        (row["delta"], row["plan_delta"], row["overage_delta"])
        for row in await ledger_of(client, admin, customer)
        if row["kind"] == "release"
    ]
    assert releases == [(0, 0, -400), (1000, 500, 0)]
    assert (await check_ledger(db)).clean


async def test_overage_stops_at_the_cap_and_resets_on_renewal(client, db, fake_stripe, customer, admin, jobs):
    subscription_id = await subscribe(fake_stripe, client, customer, "plan_starter")
    await jobs.reserve(3500)
    await jobs.reserve(3500)  # all overage: the cap
    with pytest.raises(InsufficientCredits):
        await jobs.reserve(1)

    await deliver_all(fake_stripe, client, fake_stripe.renew_subscription(subscription_id))

    assert await buckets_of(client, customer) == buckets(plan=3500, purchased=0, overage=0, cap=3500)
    await jobs.reserve(3501)  # the new period's plan credits and one credit of fresh overage
    assert await buckets_of(client, customer) == buckets(plan=0, purchased=0, overage=1, cap=3500)
    resets = [
        row["overage_delta"]
        for row in await ledger_of(client, admin, customer)
        if row["kind"] == "overage_reset"
    ]
    assert resets == [-3500]
    assert (await check_ledger(db)).clean


async def test_plan_credits_expire_at_the_period_end_and_purchased_ones_do_not(
    client, db, fake_stripe, customer, admin, jobs
):
    await buy_pack(fake_stripe, client, customer, "pack_1000")
    subscription_id = await subscribe(fake_stripe, client, customer, "plan_starter")
    await jobs.reserve(500)

    await deliver_all(fake_stripe, client, fake_stripe.renew_subscription(subscription_id))

    assert await buckets_of(client, customer) == buckets(plan=3500, purchased=1000, overage=0, cap=3500)
    expiries = [
        row["delta"] for row in await ledger_of(client, admin, customer) if row["kind"] == "plan_expiry"
    ]
    assert expiries == [-3000]
    assert (await check_ledger(db)).clean


async def test_plan_credits_that_expired_while_reserved_are_not_given_back(
    client, db, fake_stripe, customer, jobs
):
    subscription_id = await subscribe(fake_stripe, client, customer, "plan_starter")
    job = await jobs.reserve(1000)
    await deliver_all(fake_stripe, client, fake_stripe.renew_subscription(subscription_id))

    await jobs.settle(job, reserved=1000, charged=0)

    assert await buckets_of(client, customer) == buckets(plan=3500, purchased=0, overage=0, cap=3500)
    assert (await check_ledger(db)).clean


async def test_a_canceled_or_unpaid_subscription_ends_plan_credits_and_overage(
    client, db, fake_stripe, customer, jobs
):
    await buy_pack(fake_stripe, client, customer, "pack_1000")
    subscription_id = await subscribe(fake_stripe, client, customer, "plan_starter")
    [payment_failed, _] = fake_stripe.fail_renewal(subscription_id)
    await deliver_all(fake_stripe, client, [payment_failed])
    assert await buckets_of(client, customer) == buckets(plan=0, purchased=1000, overage=0, cap=0)
    with pytest.raises(InsufficientCredits):
        await jobs.reserve(1001)

    await deliver_all(fake_stripe, client, fake_stripe.renew_subscription(subscription_id))  # paid again
    assert await buckets_of(client, customer) == buckets(plan=3500, purchased=1000, overage=0, cap=3500)
    await deliver_all(fake_stripe, client, [fake_stripe.cancel_subscription(subscription_id)])

    assert await buckets_of(client, customer) == buckets(plan=0, purchased=1000, overage=0, cap=0)
    assert (await check_ledger(db)).clean


async def test_a_refunded_invoice_takes_plan_credits_first_and_a_refunded_pack_purchased_ones(
    client, db, fake_stripe, customer
):
    pack_intent = await buy_pack(fake_stripe, client, customer, "pack_1000")
    subscription_id = await subscribe(fake_stripe, client, customer, "plan_starter")
    [_, renewal] = fake_stripe.renew_subscription(subscription_id)
    await deliver_all(fake_stripe, client, [renewal])

    await deliver_all(fake_stripe, client, [fake_stripe.refund(fake_stripe.invoice_intent(renewal), 1450)])
    assert await buckets_of(client, customer) == buckets(plan=1750, purchased=1000, overage=0, cap=3500)
    await deliver_all(fake_stripe, client, [fake_stripe.refund(pack_intent, 500)])

    assert await buckets_of(client, customer) == buckets(plan=1750, purchased=500, overage=0, cap=3500)
    assert (await check_ledger(db)).clean


async def test_overage_is_kept_while_stripe_is_down_and_reported_once_it_is_back(
    client, fake_stripe, customer, jobs
):
    await subscribe(fake_stripe, client, customer, "plan_starter")
    job = await jobs.reserve(3700)
    fake_stripe.unavailable = True

    await jobs.settle(job, reserved=3700, charged=3600)

    kept = await jobs.report(job, reported=False)
    assert (kept.overage_credits, kept.reported_at) == (100, None)
    assert fake_stripe.meter_event_posts == []
    fake_stripe.unavailable = False
    reported = await jobs.report(job)  # the outbox retries it
    assert reported.reported_at is not None
    [event] = fake_stripe.meter_event_posts
    assert (event["identifier"], event["payload"]["value"]) == (f"overage:{job}", "100")


async def test_users_without_a_plan_have_no_overage_and_nothing_is_metered(
    client, fake_stripe, customer, jobs
):
    await buy_pack(fake_stripe, client, customer, "pack_1000")
    job = await jobs.reserve(1000)
    with pytest.raises(InsufficientCredits):
        await jobs.reserve(1)

    await jobs.settle(job, reserved=1000, charged=1000)

    assert await jobs.report(job) is None  # nothing metered without a subscription
    assert fake_stripe.meter_event_posts == []


async def test_the_ledger_check_names_an_account_whose_buckets_its_ledger_does_not_explain(
    client, db, fake_stripe, customer
):
    await subscribe(fake_stripe, client, customer, "plan_starter")
    assert (await check_ledger(db)).clean
    async with db.connection() as conn:
        await conn.execute(
            "UPDATE credit_accounts SET plan_credits = plan_credits - 1 WHERE user_id = %s",
            (customer.user_id,),
        )

    [account] = (await check_ledger(db)).inconsistent

    assert (account.user_id, account.plan_credits, account.ledger_plan_sum) == (customer.user_id, 3499, 3500)
    assert account.balance == account.ledger_sum == 3500
