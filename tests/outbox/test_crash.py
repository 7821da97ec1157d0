"""A process dies after a job's charge commits, before its overage report and auto top-up reach
Stripe: after a restart each is sent exactly once."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from contextlib import asynccontextmanager

import httpx
import pytest

from tests.accounts import open_account
from tests.billing.flows import buy_pack, spend, subscribe
from tests.billing.test_billing_flows import enable_auto_topup
from tests.conftest import REPO, server_env
from tests.fakes.stripe_server import fake_stripe_fixture  # noqa: F401 (fixture)
from tests.outbox.conftest import eventually

LEASE_SECS = 6


@pytest.fixture
def settings(settings, fake_stripe):
    return fake_stripe.configure(settings).model_copy(update={"outbox_lease_secs": LEASE_SECS})


@asynccontextmanager
async def running_app(settings):
    """The app (with its outbox relay) up for the block, then fully stopped."""
    from api.app import create_app

    application = create_app(settings)
    async with application.router.lifespan_context(application):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://testserver", timeout=60
        ) as client:
            yield application, client


def wait_for_lines(proc: subprocess.Popen, prefixes: list[str], timeout: float = 120.0) -> list[str]:
    """Read the child's output until a line starting with each prefix has appeared."""
    deadline, seen, wanted = time.monotonic() + timeout, [], list(prefixes)
    while wanted:
        assert time.monotonic() < deadline, f"child never printed {wanted}; saw {seen}"
        line = proc.stdout.readline()
        assert line, f"child exited early ({proc.wait()}); saw {seen}"
        seen.append(line.strip())
        wanted = [p for p in wanted if not line.startswith(p)]
    return seen


def top_ups(fake_stripe) -> list[dict]:
    return [i for i in fake_stripe.payment_intents.values() if i["metadata"].get("kind") == "auto_topup"]


async def test_follow_ups_of_a_charge_survive_a_sigkill_and_are_sent_once(
    settings, clean_storage, fake_stripe
):
    async with running_app(settings) as (app, client):
        customer = await open_account(client, app.state.db, credits=0)
        await buy_pack(fake_stripe, client, customer)  # 1,000 credits, card saved
        await subscribe(fake_stripe, client, customer)  # starter: 3,500 included
        await enable_auto_topup(client, customer, threshold=5000)
        await spend(app.state.db, customer, 3500 + 1000)  # both buckets used up: the job is overage
    assert fake_stripe.meter_event_posts == [] and top_ups(fake_stripe) == []

    env = server_env(settings, USER_ID=str(customer.user_id), INFRENCE_OUTBOX_LEASE_SECS=str(LEASE_SECS))
    env.update(STRIPE_SECRET_KEY=fake_stripe.api_key, STRIPE_API_BASE=fake_stripe.base_url)
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.outbox.crash_process"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        [charged, *_] = wait_for_lines(
            child, ["charged", "sending billing.report_overage", "sending billing.auto_topup"]
        )
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    _, job_id, credits = charged.split()
    assert fake_stripe.meter_event_posts == [] and top_ups(fake_stripe) == []  # died before either

    async with running_app(settings):
        await eventually(lambda: _sent(fake_stripe), timeout=120)
        await eventually(lambda: _outbox_done(settings), timeout=60)

    [meter_event] = fake_stripe.meter_event_posts
    assert meter_event["identifier"] == f"overage:{job_id}"
    assert meter_event["payload"]["value"] == credits
    assert len(top_ups(fake_stripe)) == 1


async def _sent(fake_stripe) -> bool:
    return bool(fake_stripe.meter_event_posts) and bool(top_ups(fake_stripe))


async def _outbox_done(settings) -> bool:
    import psycopg

    async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
        cur = await conn.execute(
            "SELECT kind, status, attempts FROM outbox_tasks WHERE kind = ANY(%s) ORDER BY kind",
            (["billing.auto_topup", "billing.report_overage"],),
        )
        rows = await cur.fetchall()
    return rows == [("billing.auto_topup", "done", 2), ("billing.report_overage", "done", 2)]
