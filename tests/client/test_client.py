"""The Python client (clients/python) against a real server: sync and async research, a stream
cut mid-way and resumed, a webhook verified, a 402 and a 429 as typed exceptions, retries."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from infrence_client import (
    AsyncAccepted,
    AsyncInfrence,
    Infrence,
    InsufficientCreditsError,
    RateLimitError,
    ResearchResult,
    SourcePolicy,
    WebhookVerificationError,
    verify_webhook,
)
from tests.conftest import free_port
from tests.waiting import until_sync

QUESTION = "How do checkpointed graphs resume after a crash?"
pytestmark = pytest.mark.timeout(300)


def test_sync_client_researches_and_waits(client_server, account):
    with Infrence(account.api_key, base_url=client_server.base_url) as client:
        quick = client.research(QUESTION, mode="lite")
        assert isinstance(quick, ResearchResult) and quick.status == "succeeded"
        assert quick.brief and quick.sources and "[1]" in quick.brief

        accepted = client.create_research(QUESTION, mode="lite", run_async=True)
        assert isinstance(accepted, AsyncAccepted)
        done = client.get_research(str(accepted.id), wait=60)
        assert done.status == "succeeded" and done.credits_charged == 15
        assert client.credits()["credits"] == 1000 - 30


def test_a_follow_up_with_typed_controls(client_server, account):
    with Infrence(account.api_key, base_url=client_server.base_url) as client:
        first = client.research(QUESTION, mode="lite")
        follow_up = client.research(
            "How are checkpoints stored?",
            mode="lite",
            previous_job_id=first.id,
            output_language="de",
            source_policy=SourcePolicy(exclude_domains=["spam.test"], after_date="2024-01-01"),
        )

    assert follow_up.status == "succeeded" and follow_up.previous_job_id == first.id
    assert follow_up.usage.output_language_note  # the server's offline reasoner does not translate
    assert {s.url for s in first.sources} & {s.url for s in follow_up.sources}


async def test_async_client_researches_and_streams(client_server, account):
    async with AsyncInfrence(account.api_key, base_url=client_server.base_url) as client:
        result = await client.research(QUESTION, mode="lite")
        assert result.status == "succeeded" and result.sources

        types = [event.type async for event in client.research_stream(QUESTION, mode="standard")]
        assert types[-1] == "job.succeeded"
        assert "job.started" in types and "plan" in types


def test_a_cut_stream_resumes_with_last_event_id_and_loses_nothing(client_server, account, cutting_proxy):
    with Infrence(account.api_key, base_url=client_server.base_url) as direct:
        accepted = direct.create_research(QUESTION, mode="lite", run_async=True)
        job_id = str(accepted.id)
        everything = [(e.id, e.type) for e in direct.events(job_id)]

    with Infrence(account.api_key, base_url=cutting_proxy.url) as through_proxy:
        seen = [(e.id, e.type) for e in through_proxy.events(job_id)]

    assert cutting_proxy.cuts == 1
    resumed = [h for h in cutting_proxy.request_heads if b"/events" in h and b"last-event-id" in h.lower()]
    assert len(resumed) >= 1, cutting_proxy.request_heads
    assert seen == everything  # no gap, no repeat
    assert seen[-1][1] == "job.succeeded"


def test_402_is_insufficient_credits_with_its_code(client_server, broke_account):
    with Infrence(broke_account.api_key, base_url=client_server.base_url) as client:
        with pytest.raises(InsufficientCreditsError) as caught:
            client.create_research(QUESTION, mode="lite")
    assert caught.value.status == 402 and caught.value.code == "insufficient_credits"


def test_429_is_a_rate_limit_error_with_retry_after(client_server, account):
    with Infrence(account.api_key, base_url=client_server.base_url, max_retries=0) as client:
        with pytest.raises(RateLimitError) as caught:
            for _ in range(10):  # the server allows 4 creates a minute per key
                client.create_research(QUESTION, mode="lite", run_async=True)
    assert caught.value.code == "rate_limited"
    assert 0 < caught.value.retry_after <= 60


class FlakyFront:
    """In front of the real server: answers the first `failures` requests itself with
    `status` and `Retry-After`, then forwards; records every request it saw."""

    def __init__(self, server_url: str, status: int, failures: int = 1, retry_after: str = "0.3"):
        self.upstream = httpx.Client(base_url=server_url, timeout=60)
        self.status, self.failures, self.retry_after = status, failures, retry_after
        self.seen: list[tuple[float, httpx.Request]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((time.monotonic(), request))
        if len(self.seen) <= self.failures:
            body = {"detail": "busy", "code": "rate_limited" if self.status == 429 else "service_unavailable"}
            return httpx.Response(self.status, json=body, headers={"Retry-After": self.retry_after})
        upstream = self.upstream.send(
            self.upstream.build_request(
                request.method, request.url.path, headers=request.headers, content=request.content
            )
        )
        return httpx.Response(upstream.status_code, headers=upstream.headers, content=upstream.content)


@pytest.mark.parametrize("status", [429, 503])
def test_creates_are_retried_after_retry_after_with_the_same_idempotency_key(client_server, account, status):
    front = FlakyFront(client_server.base_url, status)
    http = httpx.Client(transport=httpx.MockTransport(front))
    with Infrence(account.api_key, base_url="http://infrence.test", http_client=http) as client:
        created = client.create_research(QUESTION, mode="lite", run_async=True)
    assert isinstance(created, AsyncAccepted)
    (first_at, first), (second_at, second) = front.seen
    assert second_at - first_at >= 0.3  # Retry-After honoured
    key = first.headers["Idempotency-Key"]
    assert key and second.headers["Idempotency-Key"] == key


@pytest.fixture
def webhook_receiver():
    received: list[tuple[bytes, dict[str, str]]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((body, dict(self.headers)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()


def test_a_delivered_webhook_verifies_and_a_tampered_one_does_not(client_server, account, webhook_receiver):
    url, received = webhook_receiver
    secret = httpx.get(f"{client_server.base_url}/api/settings/webhook-secret", headers=account.jwt).json()[
        "webhook_secret"
    ]
    with Infrence(account.api_key, base_url=client_server.base_url) as client:
        accepted = client.create_research(QUESTION, mode="lite", webhook_url=url)
    deadline = time.monotonic() + 120
    while not received and time.monotonic() < deadline:
        time.sleep(0.2)
    body, headers = received[0]

    delivered = verify_webhook(body, headers, secret)
    assert delivered["id"] == str(accepted.id) and delivered["status"] == "succeeded"
    with pytest.raises(WebhookVerificationError):
        verify_webhook(body.replace(b"succeeded", b"failed"), headers, secret)
    with pytest.raises(WebhookVerificationError):
        verify_webhook(body, headers, "whsec_" + "A" * 43)
    with pytest.raises(WebhookVerificationError):  # a replay from long ago
        verify_webhook(body, headers, secret, now=time.time() + 3600)


def test_the_timestamped_infrence_signature_is_understood():
    """`X-Infrence-Signature` over "{timestamp}.{body}" with `X-Infrence-Timestamp` (alone)."""
    secret, body, now = "whsec_c2VjcmV0", json.dumps({"id": "j", "status": "succeeded"}).encode(), time.time()
    timestamp = str(int(now))
    signature = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    headers = {"X-Infrence-Signature": f"sha256={signature}", "X-Infrence-Timestamp": timestamp}
    assert verify_webhook(body, headers, secret, now=now)["id"] == "j"
    with pytest.raises(WebhookVerificationError):
        verify_webhook(body, {**headers, "X-Infrence-Timestamp": str(int(now) - 1)}, secret, now=now)


def test_sync_client_extends_a_finished_job_under_its_id(client_server, account):
    with Infrence(account.api_key, base_url=client_server.base_url) as client:
        quick = client.research(QUESTION, mode="lite")
        extended = client.extend_research(str(quick.id), mode="standard")
        assert extended.id == quick.id and extended.status == "queued"
        assert [extension.credits for extension in extended.extensions] == [45]
        done = client.get_research(str(quick.id), wait=60)
        assert done.status == "succeeded" and done.mode == "standard" and done.credits_charged == 60


def test_sync_client_approves_the_plan_of_a_job_awaiting_it(client_server, account):
    with Infrence(account.api_key, base_url=client_server.base_url) as client:
        accepted = client.create_research(QUESTION, mode="lite", plan_approval=True)
        assert isinstance(accepted, AsyncAccepted)  # answered 202 though lite runs synchronously
        job_id = str(accepted.id)
        parked = until_sync(
            lambda: (job := client.get_research(job_id)).status == "awaiting_approval" and job,
            what="the plan to wait for approval",
        )
        assert parked.plan is not None and parked.plan.queries
        approved = client.approve_plan(job_id, parked.plan.queries[:1])
        assert approved.status == "queued" and approved.plan.approved
        done = client.get_research(job_id, wait=60)
        assert done.status == "succeeded" and done.plan.queries == parked.plan.queries[:1]
