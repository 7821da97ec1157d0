"""The Stripe webhook receiver's guard (signature, tolerance, configuration), the admin view
of stored events, and the public face of the catalog."""

from __future__ import annotations

import json
import time

from tests.accounts import balance_of
from tests.billing.flows import checkout, payments, row_counts
from tests.fakes.stripe_server import sign


async def stored_event_ids(client, admin) -> list[str]:
    response = await client.get("/api/admin/stripe-events", headers=admin.jwt)
    assert response.status_code == 200, response.text
    return [row["id"] for row in response.json()]


async def test_a_bad_or_missing_signature_is_refused_and_nothing_is_stored(client, fake_stripe, admin):
    event = fake_stripe.event("customer.created", {"id": "cus_x", "object": "customer"})

    forged = await fake_stripe.deliver(client, event, secret="whsec_someone_else")
    unsigned = await client.post("/api/billing/stripe-webhook", content=json.dumps(event))

    assert forged.status_code == 400 and forged.json()["code"] == "invalid_signature"
    assert unsigned.status_code == 400
    assert await stored_event_ids(client, admin) == []


async def test_a_stale_signature_is_refused(client, fake_stripe):
    event = fake_stripe.event("customer.created", {"id": "cus_x", "object": "customer"})

    stale = await fake_stripe.deliver(client, event, timestamp=int(time.time()) - 301)
    fresh = await fake_stripe.deliver(client, event, timestamp=int(time.time()) - 240)

    assert stale.status_code == 400 and stale.json()["code"] == "invalid_signature"
    assert fresh.status_code == 200


async def test_a_tampered_body_is_refused_and_writes_nothing(client, app, fake_stripe, customer):
    session_id = await checkout(client, customer, "pack_1000")
    [completed] = fake_stripe.pay_checkout(session_id)
    payload = json.dumps(completed)
    header = sign(payload, fake_stripe.webhook_secret)
    before = await row_counts(app.state.db)

    response = await client.post(
        "/api/billing/stripe-webhook",
        content=payload.replace('"pack_1000"', '"pack_12000"'),
        headers={"Stripe-Signature": header},
    )

    assert response.status_code == 400 and response.json()["code"] == "invalid_signature"
    assert await row_counts(app.state.db) == before  # no event, no ledger row, no payment change
    assert await balance_of(app.state.db, customer) == 0
    [payment] = await payments(client, customer)
    assert payment["status"] == "pending"


async def test_unknown_event_types_are_stored_and_ignored(client, fake_stripe, admin):
    event = fake_stripe.event("customer.tax_id.created", {"id": "txi_1", "object": "tax_id"})

    response = await fake_stripe.deliver(client, event)

    assert response.status_code == 200
    [row] = (await client.get("/api/admin/stripe-events", headers=admin.jwt)).json()
    assert (row["id"], row["event_type"], row["has_body"]) == (event["id"], event["type"], True)
    assert row["processed_at"] is not None and row["last_error"] is None


async def test_stored_events_are_for_admins_only(client, customer, admin):
    anonymous = await client.get("/api/admin/stripe-events")
    not_admin = await client.get("/api/admin/stripe-events", headers=customer.jwt)
    missing = await client.post("/api/admin/stripe-events/evt_missing/replay", headers=admin.jwt)
    paged = await client.get("/api/admin/stripe-events?limit=0", headers=admin.jwt)

    assert (anonymous.status_code, not_admin.status_code, missing.status_code) == (401, 403, 404)
    assert paged.status_code == 400 and "limit" in paged.json()["detail"]


async def test_without_stripe_configured_payments_answer_stripe_not_configured(
    app, client, fake_stripe, customer
):
    enabled = await client.get("/api/billing/status", headers=customer.jwt)
    assert enabled.status_code == 200 and enabled.json() == {"payments_enabled": True}
    app.state.settings = app.state.settings.model_copy(
        update={"stripe_secret_key": None, "stripe_webhook_secret": None}
    )
    event = fake_stripe.event("customer.created", {"id": "cus_x", "object": "customer"})

    checkout = await client.post("/api/billing/checkout", json={"pack_id": "pack_1000"}, headers=customer.jwt)
    portal = await client.post("/api/billing/portal", headers=customer.jwt)
    webhook = await fake_stripe.deliver(client, event)

    for response in (checkout, portal, webhook):
        assert (response.status_code, response.json()["code"]) == (503, "stripe_not_configured")
    status = await client.get("/api/billing/status", headers=customer.jwt)
    assert status.json() == {"payments_enabled": False}  # the dashboard disables Buy/Subscribe


async def test_checkout_refuses_an_unknown_pack(client, customer):
    response = await client.post("/api/billing/checkout", json={"pack_id": "pack_999"}, headers=customer.jwt)

    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "pack_id", "message": "Unknown pack or plan: pack_999"}]


async def test_plans_are_public_and_packs_need_a_session(client, customer):
    plans = await client.get("/api/billing/plans")
    anonymous_packs = await client.get("/api/billing/packs")
    packs = await client.get("/api/billing/packs", headers=customer.jwt)

    assert plans.status_code == 200 and anonymous_packs.status_code == 401
    assert [(p["credits"], p["price_cents"]) for p in packs.json()] == [
        (1000, 1000),
        (5500, 5000),
        (12000, 10000),
    ]
    starter = next(p for p in plans.json() if p["id"] == "plan_starter")
    assert starter["breakeven_credits"] == 2900 and "stripe_price_env" not in starter
