"""A webhook receiver that is down for a while gets its delivery once it is back."""

from __future__ import annotations

import json
import threading
from http.server import ThreadingHTTPServer

import psycopg
import pytest

from api.app import create_app
from api.runtime import background_services_for
from tests.accounts import open_account
from tests.conftest import free_port
from tests.research.test_events_and_webhooks import _Receiver
from tests.waiting import until


async def _delivery(database_url: str, job_id: str) -> dict | None:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cur = await conn.execute(
            "SELECT status, attempts, last_error FROM webhook_deliveries WHERE job_id = %s", (job_id,)
        )
        row = await cur.fetchone()
    return None if row is None else {"status": row[0], "attempts": row[1], "last_error": row[2]}


@pytest.fixture
def quick_retry_settings(settings):
    return settings.model_copy(update={"webhook_retry_first_secs": 0.3})


async def test_a_receiver_down_for_a_while_gets_the_result_when_it_returns(
    idle_api, app, quick_retry_settings, settings
):
    port = free_port()  # nothing listens here yet
    account = await open_account(idle_api, app.state.db, credits=100)
    worker_app = create_app(
        quick_retry_settings, background_services=background_services_for(quick_retry_settings, 1)
    )
    async with worker_app.router.lifespan_context(worker_app):
        job = (
            await idle_api.post(
                "/v1/research",
                headers=account.key,
                json={
                    "question": "What is LangGraph?",
                    "mode": "lite",
                    "webhook_url": f"http://127.0.0.1:{port}/hook",
                },
            )
        ).json()

        async def refused_twice():
            delivery = await _delivery(settings.database_url, job["id"])
            return delivery if delivery and delivery["attempts"] >= 2 else None

        delivery = await until(refused_twice, what="two refused deliveries while the receiver is down")
        assert delivery["status"] == "pending" and delivery["last_error"]

        _Receiver.received = []
        receiver = ThreadingHTTPServer(("127.0.0.1", port), _Receiver)
        threading.Thread(target=receiver.serve_forever, daemon=True).start()
        try:
            await until(lambda: _Receiver.received, what="the delivery once the receiver is up")
        finally:
            receiver.shutdown()
    assert len(_Receiver.received) == 1
    assert json.loads(_Receiver.received[0][1])["id"] == job["id"]
    delivered = await _delivery(settings.database_url, job["id"])
    assert delivered["status"] == "delivered" and delivered["attempts"] >= 3
