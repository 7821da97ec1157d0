"""Structured logs: JSON lines tagged with the request, user and job, and never a credential."""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections.abc import Iterator

import httpx
import pytest

from core.logging import configure_logging, log_context, redact
from tests.accounts import DEFAULT_PASSWORD, open_account


@contextlib.contextmanager
def json_logs() -> Iterator[io.StringIO]:
    """Logging configured as the app configures it, into a buffer; the root logger is restored after."""
    stream = io.StringIO()
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    try:
        configure_logging(stream=stream)
        yield stream
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)


@pytest.mark.parametrize(
    "secret, kept",
    [
        ("Authorization: Bearer eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl", "Authorization: Bearer [REDACTED]"),
        ("{'authorization': 'Basic dXNlcjpwYXNz'}", "'authorization': 'Basic [REDACTED]'"),
        ("GET /api/playground/research/1/events?access_token=abc.def.ghi&x=1", "access_token=[REDACTED]&x=1"),
        ("key ifr_3kT9abcDEF0123456789abcdefghijklmnopq used", "key ifr_[REDACTED] used"),
        ("secret whsec_c2VjcmV0LWJ5dGVz== rotated", "secret whsec_[REDACTED] rotated"),
        ("stripe sk_live_51HxyzABC and rk_test_9zz", "stripe sk_live_[REDACTED] and rk_test_[REDACTED]"),
        ('{"email": "a@b.c", "password": "hunter22"}', '"password": "[REDACTED]"'),
    ],
)
def test_credentials_are_redacted_whatever_their_shape(secret, kept):
    cleaned = redact(secret)
    assert kept in cleaned
    for fragment in ("eyJ", "dXNlcjpwYXNz", "abc.def", "3kT9", "c2VjcmV0", "51Hxyz", "9zz", "hunter22"):
        assert fragment not in cleaned


def test_a_record_is_one_json_line_with_its_scope_and_no_secret_even_in_a_traceback():
    with json_logs() as stream:
        with log_context(request_id="req-1", user_id="user-1", job_id="job-1"):
            try:
                raise ValueError("bad key ifr_AAAABBBBCCCC")
            except ValueError:
                logging.getLogger("tests.observability").exception(
                    "calling %s with %s", "/v1/x", "Bearer sk_test_123456789"
                )
        logging.getLogger("tests.observability").info("outside any scope")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["level"] == "ERROR" and first["logger"] == "tests.observability"
    assert (first["request_id"], first["user_id"], first["job_id"]) == ("req-1", "user-1", "job-1")
    assert first["message"] == "calling /v1/x with Bearer [REDACTED]"
    assert "ValueError" in first["exception"] and "AAAABBBB" not in first["exception"]
    assert "request_id" not in second and first["timestamp"].endswith("+00:00")


def test_a_message_with_a_lone_surrogate_is_still_one_json_line():
    """A lone surrogate (undecodable bytes kept by `surrogateescape`) is what orjson refuses."""
    with json_logs() as stream:
        logging.getLogger("tests.observability").warning("path /caf\udce9 and café")
    (line,) = stream.getvalue().splitlines()
    assert json.loads(line)["message"] == "path /caf\udce9 and café"


async def test_every_answer_carries_a_request_id_and_a_sane_one_is_kept(client):
    generated = await client.get("/livez")
    kept = await client.get("/livez", headers={"X-Request-ID": "lb-7f3a.42"})
    replaced = await client.get("/livez", headers={"X-Request-ID": "no spaces\tor tabs" + "x" * 200})
    assert len(generated.headers["x-request-id"]) == 32
    assert kept.headers["x-request-id"] == "lb-7f3a.42"
    assert len(replaced.headers["x-request-id"]) == 32 and "\t" not in replaced.headers["x-request-id"]


async def test_served_logs_are_json_and_never_show_a_token_or_a_password(live_server, app):
    """Over real uvicorn: its access lines carry the raw query string, `?access_token=` included."""
    async with httpx.AsyncClient(base_url=live_server.base_url, timeout=60) as http:
        account = await open_account(http, app.state.db, credits=100)
        login = (
            await http.post("/api/auth/login", json={"email": account.email, "password": DEFAULT_PASSWORD})
        ).json()
        jwt = login["access_token"]
        credits = await http.get("/v1/credits", headers={**account.key, "X-Request-ID": "credits-call-1"})
        job = (
            await http.post(
                "/v1/research",
                headers=account.key,
                json={"question": "What is structured logging?", "mode": "lite"},
            )
        ).json()
        events = await http.get(f"/api/playground/research/{job['id']}/events", params={"access_token": jwt})
    live_server.stop()
    log_text = live_server.log_path.read_text()

    assert credits.status_code == 200 and events.status_code == 200 and "job." in events.text
    secrets = [
        jwt,
        account.access_token,
        login["refresh_token"],
        account.api_key,
        account.api_key[4:],
        DEFAULT_PASSWORD,
    ]
    leaked = [s[:12] for s in secrets if s in log_text]
    assert leaked == []
    lines = [json.loads(line) for line in log_text.splitlines() if line.strip()]
    access = [line for line in lines if line["logger"] == "uvicorn.access"]
    sse_line = next(line for line in access if "/events" in line["message"])
    assert "access_token=[REDACTED]" in sse_line["message"]
    assert sse_line["user_id"] == str(account.user_id) and len(sse_line["request_id"]) == 32
    credits_line = next(line for line in access if "/v1/credits" in line["message"])
    assert credits_line["request_id"] == "credits-call-1" and credits_line["user_id"] == str(account.user_id)
