"""Research jobs feed billing: a reservation that dips below the auto top-up threshold starts a
top-up; a charged job of a plan subscriber is reported for overage."""

from __future__ import annotations

import pytest

from tests.accounts import open_account
from tests.billing.test_billing_flows import buy_pack, enable_auto_topup
from tests.fakes.stripe_server import fake_stripe_fixture  # noqa: F401 (fixture)
from tests.waiting import until


@pytest.fixture
def settings(settings, fake_stripe):
    return fake_stripe.configure(settings)


async def test_a_research_reservation_below_the_threshold_starts_one_auto_top_up(client, app, fake_stripe):
    customer = await open_account(client, app.state.db, credits=0)
    await buy_pack(fake_stripe, client, customer)  # 1000 credits, card saved
    await enable_auto_topup(client, customer, threshold=990)
    response = await client.post(
        "/v1/research", headers=customer.key, json={"question": "q", "mode": "lite", "async": True}
    )
    assert response.status_code == 202  # 1000 -> 985, below 990

    def top_ups() -> list[dict]:
        return [i for i in fake_stripe.payment_intents.values() if i["metadata"].get("kind") == "auto_topup"]

    await until(top_ups, what="the auto top-up")
    assert len(top_ups()) == 1
