"""Plan credits expire at their period's end on a timer, not only when the next Stripe event
arrives: a periodic sweep writes the expiry rows for periods that ended unrenewed."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from billing.subscriptions import Subscriptions, run_period_sweeps
from ledger.check import check_ledger
from tests.billing.flows import buy_pack, deliver_all, ledger_of, subscribe
from tests.billing.test_credit_buckets import buckets, buckets_of
from tests.clock import PinnedClock
from tests.outbox.conftest import eventually


async def period_end_of(db, subscription_id: str):
    async with db.connection() as conn:
        cur = await conn.execute(
            "SELECT current_period_end FROM subscriptions WHERE stripe_subscription_id = %s",
            (subscription_id,),
        )
        return (await cur.fetchone())["current_period_end"]


async def test_plan_credits_expire_when_their_period_ends_unrenewed(
    app, client, db, fake_stripe, customer, admin
):
    await buy_pack(fake_stripe, client, customer, "pack_1000")
    subscription_id = await subscribe(fake_stripe, client, customer, "plan_starter")
    end = await period_end_of(db, subscription_id)
    sweeps = Subscriptions(db, app.state.settings)

    assert await sweeps.expire_ended_periods(end - timedelta(seconds=1)) == 0
    assert await buckets_of(client, customer) == buckets(plan=3500, purchased=1000, overage=0, cap=3500)

    assert await sweeps.expire_ended_periods(end + timedelta(seconds=1)) == 1
    assert await buckets_of(client, customer) == buckets(plan=0, purchased=1000, overage=0, cap=0)
    expiry = (await ledger_of(client, admin, customer))[-1]
    assert (expiry["kind"], expiry["delta"]) == ("plan_expiry", -3500)
    assert await sweeps.expire_ended_periods(end + timedelta(hours=1)) == 0  # nothing left to end
    assert (await check_ledger(db)).clean

    # The renewal, paid late, opens the next period: the sweep leaves it alone until it ends.
    await deliver_all(fake_stripe, client, fake_stripe.renew_subscription(subscription_id))
    assert await buckets_of(client, customer) == buckets(plan=3500, purchased=1000, overage=0, cap=3500)
    assert await sweeps.expire_ended_periods(end + timedelta(hours=1)) == 0
    assert await buckets_of(client, customer) == buckets(plan=3500, purchased=1000, overage=0, cap=3500)
    assert (await check_ledger(db)).clean


async def test_the_sweep_runs_on_a_timer(app, client, db, fake_stripe, customer):
    assert "plan-period-sweeps" in {task.get_name() for task in asyncio.all_tasks()}  # the app runs one
    subscription_id = await subscribe(fake_stripe, client, customer, "plan_starter")
    clock = PinnedClock((await period_end_of(db, subscription_id)).timestamp() - 5)
    stop = asyncio.Event()
    sweeping = asyncio.create_task(
        run_period_sweeps(Subscriptions(db, app.state.settings), stop, clock, every_secs=0.05)
    )
    try:
        await asyncio.sleep(0.3)
        assert (await buckets_of(client, customer))["plan_credits"] == 3500  # not yet
        clock.now += 10
        await eventually(lambda: _plan_credits_are(client, customer, 0), timeout=30)
    finally:
        stop.set()
        await sweeping
    assert (await check_ledger(db)).clean


async def _plan_credits_are(client, customer, credits: int) -> bool:
    return (await buckets_of(client, customer))["plan_credits"] == credits
