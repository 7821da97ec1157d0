"""Server-sent events of a job (resume by Last-Event-ID, replay after completion) and signed webhooks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import httpx
import pytest

from api.research.schemas import ResearchEvent
from tests.waiting import until


def parse_sse(text: str) -> list[dict]:
    events = []
    for block in text.split("\n\n"):
        fields = {}
        for line in block.splitlines():
            if line.startswith(":") or ": " not in line:
                continue
            key, value = line.split(": ", 1)
            fields[key] = value
        if "event" in fields:
            events.append(
                {"id": fields.get("id"), "type": fields["event"], "data": json.loads(fields["data"])}
            )
    return events


async def _events(
    api: httpx.AsyncClient, url: str, headers: dict, *, stop_after: int | None = None
) -> list[dict]:
    """Read an SSE response; with stop_after, disconnect after that many events."""
    seen: list[dict] = []
    buffer = ""
    async with api.stream("GET", url, headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        async for chunk in response.aiter_text():
            buffer += chunk
            while "\n\n" in buffer:
                block, buffer = buffer.split("\n\n", 1)
                seen.extend(parse_sse(block + "\n\n"))
                if stop_after is not None and len(seen) >= stop_after:
                    return seen
    return seen


async def test_events_follow_a_job_to_its_terminal_event(api, funded):
    job = (
        await api.post(
            "/v1/research",
            headers=funded.key,
            json={"question": "How does the budget gate decide?", "mode": "standard", "async": True},
        )
    ).json()
    events = await _events(api, f"/v1/research/{job['id']}/events", funded.key)
    types = [e["type"] for e in events]
    assert types[0] == "job.queued"
    assert "job.started" in types and "plan" in types and "wave.started" in types
    assert "synthesis.started" in types and "progress" in types
    assert types[-1] == "job.succeeded"
    final = events[-1]["data"]
    assert final["id"] == job["id"] and final["status"] == "succeeded" and final["brief"]
    ids = [e["id"] for e in events]
    assert len(set(ids)) == len(ids)
    for event in events:  # every event as the OpenAPI `ResearchEvent` union declares it
        ResearchEvent.validate_python({"type": event["type"], "data": event["data"]})


async def test_a_client_that_reconnects_with_last_event_id_sees_every_event_once(api, funded):
    job = (
        await api.post(
            "/v1/research",
            headers=funded.key,
            json={"question": "What do waves do?", "mode": "standard", "async": True},
        )
    ).json()
    url = f"/v1/research/{job['id']}/events"
    first = await _events(api, url, funded.key, stop_after=3)
    rest = await _events(api, url, {**funded.key, "Last-Event-ID": first[-1]["id"]})
    everything = await _events(api, url, funded.key)  # a replay after completion
    assert [e["id"] for e in first + rest] == [e["id"] for e in everything]
    assert rest[-1]["type"] == "job.succeeded"


async def test_the_terminal_event_is_rebuilt_from_the_database_when_the_stream_is_gone(
    api, funded, research_app
):
    result = (
        await api.post(
            "/v1/research", headers=funded.key, json={"question": "What is LangGraph?", "mode": "lite"}
        )
    ).json()
    await research_app.state.redis.delete(f"job:{result['id']}:events")
    events = await _events(api, f"/v1/research/{result['id']}/events", funded.key)
    assert [e["type"] for e in events] == ["job.succeeded"]
    assert events[0]["data"]["brief"] == result["brief"]


async def test_playground_events_accept_the_access_token_in_the_query(api, funded):
    job = (
        await api.post(
            "/api/playground/research",
            headers=funded.jwt,
            json={"question": "What is LangGraph?", "mode": "lite", "async": True},
        )
    ).json()
    url = f"/api/playground/research/{job['id']}/events?access_token={funded.access_token}"
    events = await _events(api, url, {})
    assert events[-1]["type"] == "job.succeeded"
    assert (await api.get(f"/api/playground/research/{job['id']}/events")).status_code == 401


class _Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[dict, bytes]]] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook_receiver():
    _Receiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", _Receiver.received
    server.shutdown()


def assert_signed(headers: dict, body: bytes, secret: str) -> None:
    """Both schemes verify with the account's secret, over a fresh timestamp that is signed too."""
    timestamp = headers["X-Infrence-Timestamp"]
    assert abs(int(timestamp) - time.time()) < 300 and timestamp == headers["webhook-timestamp"]
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert headers["X-Infrence-Signature"] == f"sha256={expected}"
    unbound = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Infrence-Signature"] != f"sha256={unbound}"  # the timestamp is signed too

    key = base64.b64decode(secret.removeprefix("whsec_") + "=" * (-len(secret.removeprefix("whsec_")) % 4))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    standard = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert headers["webhook-signature"] == f"v1,{standard}"
    assert headers["X-Infrence-Delivery"] == headers["webhook-id"]


async def _webhook_secret(api: httpx.AsyncClient, account) -> str:
    return (await api.get("/api/settings/webhook-secret", headers=account.jwt)).json()["webhook_secret"]


async def lite_job_with_webhook(api, account, url: str) -> dict:
    """A lite job that reports to `url` (a webhook makes it async): its create response."""
    accepted = await api.post(
        "/v1/research",
        headers=account.key,
        json={"question": "What is LangGraph?", "mode": "lite", "webhook_url": url},
    )
    return accepted.json()


async def test_a_webhook_is_delivered_signed_under_both_schemes(api, funded, webhook_receiver):
    url, received = webhook_receiver
    job = await lite_job_with_webhook(api, funded, url)
    assert "status_url" in job  # a webhook makes the job async
    await until(lambda: received, what="the webhook")
    assert len(received) == 1
    headers, body = received[0]
    payload = json.loads(body)
    assert payload["id"] == job["id"] and payload["status"] == "succeeded"
    assert_signed(headers, body, await _webhook_secret(api, funded))


async def test_an_extended_job_delivers_its_new_result_to_the_webhook_again(api, funded, webhook_receiver):
    url, received = webhook_receiver
    job = await lite_job_with_webhook(api, funded, url)
    await until(lambda: received, what="the first run's webhook")
    extend = await api.post(f"/v1/research/{job['id']}/extend", headers=funded.key, json={"mode": "standard"})
    assert extend.status_code == 202, extend.text

    await until(lambda: len(received) == 2, what="the extension's webhook")
    (first_headers, first_body), (headers, body) = received
    first, extended = json.loads(first_body), json.loads(body)
    assert (first["id"], first["credits_charged"], first["extensions"]) == (job["id"], 15, [])
    assert extended["id"] == job["id"] and extended["status"] == "succeeded"
    assert extended["credits_charged"] == 60 and [e["credits"] for e in extended["extensions"]] == [45]
    assert headers["webhook-id"] != first_headers["webhook-id"]  # a new delivery, not a retry
    assert_signed(headers, body, await _webhook_secret(api, funded))
