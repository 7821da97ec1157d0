"""The SSRF guard of webhooks in the default configuration (private URLs not allowed).

Every other app test allows private URLs (their fake receivers listen on 127.0.0.1), so these
tests are the ones that see the guard on: at submission and in the sender itself, which must
refuse at connect time even when a URL got past submission (DNS can change in between)."""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from api.research.webhooks import WebhookRepository, WebhookSender
from tests.accounts import open_account
from tests.research.conftest import submit_async_job


class _Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[bytes]] = []

    def do_POST(self):
        type(self).received.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def loopback_receiver():
    _Receiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", _Receiver.received
    server.shutdown()


async def test_submission_refuses_private_addresses_and_other_ports(app, idle_api):
    app.state.settings = app.state.settings.model_copy(update={"allow_private_urls": False})
    account = await open_account(idle_api, app.state.db)
    for webhook_url, reason in (
        ("http://127.0.0.1/hook", "private"),
        ("https://localhost/hook", "private"),
        ("http://[::ffff:127.0.0.1]/hook", "private"),
        ("http://example.com:8080/hook", "port 80 or 443"),
    ):
        answer = await idle_api.post(
            "/v1/research",
            headers=account.key,
            json={"question": "What is a queue?", "mode": "lite", "webhook_url": webhook_url},
        )
        assert answer.status_code == 400, answer.text
        assert reason in answer.json()["detail"]
        assert answer.json()["errors"][0]["field"] == "webhook_url"


async def test_the_sender_refuses_a_delivery_to_loopback_and_the_receiver_gets_nothing(
    app, idle_api, settings, loopback_receiver
):
    url, received = loopback_receiver
    account = await open_account(idle_api, app.state.db)
    job_id = await submit_async_job(idle_api, account, "What is a queue?")
    async with app.state.db.transaction() as tx:
        await WebhookRepository().enqueue(tx, job_id, 0, url, json.dumps({"id": job_id}))

    sender = WebhookSender(app.state.db, settings.model_copy(update={"allow_private_urls": False}))
    stop = asyncio.Event()
    running = asyncio.create_task(sender.run(stop))
    try:
        for _ in range(300):
            async with app.state.db.connection() as conn:
                row = await (
                    await conn.execute("SELECT attempts, status, last_error FROM webhook_deliveries")
                ).fetchone()
            if row["attempts"]:
                break
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        sender.wake.set()
        await running
    assert row["attempts"] == 1 and row["status"] == "pending"  # retried later, never delivered
    assert "non-public" in row["last_error"]
    assert received == []
