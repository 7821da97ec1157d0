"""A Stripe event whose handler fails is retried through the outbox, and admins see it go dead."""

from __future__ import annotations

import pytest

from ledger import LedgerService
from ledger.check import check_ledger
from tests.accounts import balance_of, open_account
from tests.billing.flows import checkout, deliver_all, subscribe
from tests.fakes.stripe_server import fake_stripe_fixture  # noqa: F401 (fixture)
from tests.outbox.conftest import eventually


@pytest.fixture
def settings(settings, fake_stripe):
    return fake_stripe.configure(settings).model_copy(
        update={"outbox_retry_first_secs": 1.0, "outbox_max_attempts": 4}
    )


@pytest.fixture
async def admin(client, app):
    from auth.service import AccountService

    account = await open_account(client, app.state.db, credits=0)
    state = app.state
    await AccountService(state.db, state.redis, state.settings, state.mailer).create_admin(
        account.email, None
    )
    return account


async def stripe_event_row(client, admin, event_id: str) -> dict:
    response = await client.get("/api/admin/stripe-events", headers=admin.jwt)
    assert response.status_code == 200, response.text
    return next(row for row in response.json() if row["id"] == event_id)


async def test_a_failing_event_handler_is_retried_then_dead_and_visible_to_admins(
    client, app, fake_stripe, admin
):
    customer = await open_account(client, app.state.db, credits=0)
    events = fake_stripe.pay_checkout(await checkout(client, customer, "plan_starter"))
    [invoice_paid] = [e for e in events if e["type"] == "invoice.paid"]
    invoice_id = invoice_paid["data"]["object"]["id"]
    # Someone already used the invoice's ledger key for another amount: the grant must conflict.
    await LedgerService(app.state.db).grant(
        customer.user_id, 100, kind="subscription_grant", idempotency_key=f"invoice:{invoice_id}"
    )

    await deliver_all(fake_stripe, client, events)  # Stripe hears 200 for each

    first = await stripe_event_row(client, admin, invoice_paid["id"])
    assert (first["status"], first["processed_at"]) == ("retrying", None)
    assert "Conflict" in first["last_error"]
    dead = await eventually(lambda: _with_status(client, admin, invoice_paid["id"], "dead"), timeout=90)
    assert dead["attempts"] == 4 and dead["dead_at"] is not None and "Conflict" in dead["last_error"]
    listed = await client.get("/api/admin/outbox?status=dead", headers=admin.jwt)
    assert listed.status_code == 200, listed.text
    [task] = listed.json()
    assert (task["kind"], task["dedupe_key"], task["attempts"]) == (
        "billing.stripe_event",
        f"stripe_event:{invoice_paid['id']}",
        4,
    )
    assert "EventHandlerFailed" in task["last_error"]
    assert await balance_of(app.state.db, customer) == 100  # nothing granted twice
    assert (await check_ledger(app.state.db)).clean


async def test_an_event_failing_until_its_cause_is_fixed_is_handled_by_a_later_retry(
    client, app, fake_stripe, admin, monkeypatch
):
    monkeypatch.setenv("STRIPE_PRICE_PLAN_PRO", "price_plan_pro")
    fake_stripe.prices.update({"price_plan_pro": 9900, "price_pro_2027": 9900})
    customer = await open_account(client, app.state.db, credits=0)
    subscription_id = await subscribe(fake_stripe, client, customer, "plan_pro")
    granted = await balance_of(app.state.db, customer)
    # The plan's price is changed in the Stripe dashboard, but not yet in our configuration.
    await deliver_all(fake_stripe, client, fake_stripe.change_plan(subscription_id, "price_pro_2027"))
    [_, renewal] = fake_stripe.renew_subscription(subscription_id)

    await deliver_all(fake_stripe, client, [renewal])

    failing = await stripe_event_row(client, admin, renewal["id"])
    assert failing["status"] == "retrying" and "bills no price of a plan" in failing["last_error"]
    monkeypatch.setenv("STRIPE_PRICE_PLAN_PRO", "price_pro_2027")  # the operator fixes it
    handled = await eventually(lambda: _with_status(client, admin, renewal["id"], "handled"), timeout=60)
    assert handled["attempts"] >= 2 and handled["last_error"] is None and handled["dead_at"] is None
    # The renewal opened a period: the first period's plan credits expired, the new grant is in.
    ledger = LedgerService(app.state.db)
    renewal_invoice = renewal["data"]["object"]["id"]
    grant = await ledger.entry(f"invoice:{renewal_invoice}")
    assert (grant.kind, grant.delta, grant.plan_delta) == ("subscription_grant", granted, granted)
    expiry = await ledger.entry(f"invoice:{renewal_invoice}:expiry")
    assert (expiry.delta, expiry.plan_delta) == (-granted, -granted)
    assert await balance_of(app.state.db, customer) == granted  # granted once, not twice
    assert (await check_ledger(app.state.db)).clean


async def test_the_outbox_list_is_for_admins_and_checks_its_filter(client, app, admin):
    customer = await open_account(client, app.state.db, credits=0)

    anonymous = await client.get("/api/admin/outbox")
    not_admin = await client.get("/api/admin/outbox", headers=customer.jwt)
    bad_status = await client.get("/api/admin/outbox?status=lost", headers=admin.jwt)
    too_many = await client.get("/api/admin/outbox?limit=201", headers=admin.jwt)
    fine = await client.get("/api/admin/outbox?status=pending&limit=5&offset=0", headers=admin.jwt)

    assert (anonymous.status_code, not_admin.status_code) == (401, 403)
    assert bad_status.status_code == 400 and bad_status.json()["errors"][0]["field"] == "status"
    assert too_many.status_code == 400 and "limit" in too_many.json()["detail"]
    assert fine.status_code == 200 and fine.json() == []


async def _with_status(client, admin, event_id: str, status: str):
    row = await stripe_event_row(client, admin, event_id)
    return row if row["status"] == status else None
