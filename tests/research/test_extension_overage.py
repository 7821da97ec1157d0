"""A subscriber's extension is metered on its own: what the extension draws beyond the buckets
reaches Stripe's Billing Meter once, identified by the job and its round."""

from __future__ import annotations

import httpx
import psycopg
import pytest

from billing.subscriptions import Subscriptions
from tests.accounts import open_account
from tests.billing.flows import spend, subscribe
from tests.fakes.stripe_server import fake_stripe_fixture  # noqa: F401 (fixture)
from tests.research.pages import QUESTION
from tests.waiting import until


async def _both_rounds_reported(settings, job_id: str) -> list[tuple] | None:
    """(round, credits charged, overage, sent to Stripe) per round, once the extension's is sent."""
    async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
        cur = await conn.execute(
            "SELECT extension, credits_charged, overage_credits, reported_at IS NOT NULL"
            " FROM meter_reports WHERE job_id = %s ORDER BY extension",
            (job_id,),
        )
        reports = await cur.fetchall()
    return reports if len(reports) == 2 and reports[1][3] else None


@pytest.fixture
def web_settings(settings, tavily, fake_stripe):
    """The research app's settings, with Stripe pointed at the fake (subscriptions, the meter)."""
    return fake_stripe.configure(settings).model_copy(
        update={"tavily_api_key": tavily.api_key, "tavily_api_base": tavily.url}
    )


async def test_an_extension_beyond_the_buckets_is_metered_once_for_its_round(
    web_api: httpx.AsyncClient, web_app, fake_stripe, web_settings
):
    subscriber = await open_account(web_api, web_app.state.db, credits=0)
    await subscribe(fake_stripe, web_api, subscriber, "plan_starter")  # 3,500 plan credits
    await spend(web_app.state.db, subscriber, 3480)  # 20 left: the lite run fits, its extension not
    lite = await web_api.post(
        "/v1/research", headers=subscriber.key, json={"question": QUESTION, "mode": "lite"}
    )
    assert lite.status_code == 200 and lite.json()["credits_charged"] == 15, lite.text
    job_id = lite.json()["id"]

    extend = await web_api.post(
        f"/v1/research/{job_id}/extend", headers=subscriber.key, json={"mode": "standard"}
    )
    assert extend.status_code == 202, extend.text
    done = (await web_api.get(f"/v1/research/{job_id}", params={"wait": 60}, headers=subscriber.key)).json()
    assert done["status"] == "succeeded" and done["credits_charged"] == 60, done

    # The extension charged 45: 5 plan credits, 40 overage. The first run drew no overage.
    reports = await until(lambda: _both_rounds_reported(web_settings, job_id), what="both rounds' reports")
    assert reports == [(0, 15, 0, False), (1, 45, 40, True)]
    [event] = fake_stripe.meter_event_posts
    assert (event["identifier"], event["payload"]["value"]) == (f"overage:{job_id}:extend:1", "40")

    # A replayed report of the same round sends nothing more.
    again = await Subscriptions(web_app.state.db, web_settings).report_overage(
        subscriber.user_id, done["id"], 45, extension=1
    )
    assert again.overage_credits == 40 and len(fake_stripe.meter_event_posts) == 1
