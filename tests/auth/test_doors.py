"""Doors that cost us work per request (argon2, rows, Stripe sessions) are limited, and the
expensive step happens only once a request has shown it may do it."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta

import httpx
from prometheus_client import REGISTRY

from auth.passwords import HASHING, Passwords
from auth.tokens import hash_token
from tests.auth.conftest import PASSWORD
from tests.clock import pin_clock


def _hashes() -> float:
    return REGISTRY.get_sample_value("infrence_password_hashes_total", {"op": "hash"}) or 0.0


def client_from(app, ip: str) -> httpx.AsyncClient:
    """A client whose requests come from `ip` (the ASGI scope's client address)."""
    transport = httpx.ASGITransport(app=app, client=(ip, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def mint_reset_token(accounts, email: str) -> str:
    """A live reset token, as the forgot-password mail would carry."""
    token = secrets.token_urlsafe(32)
    accounts.sql(
        "INSERT INTO email_tokens (user_id, purpose, token_hash, expires_at)"
        " SELECT id, 'reset', %s, %s FROM users WHERE email = %s",
        (hash_token(token), datetime.now(UTC) + timedelta(hours=1), email),
    )
    return token


async def test_a_made_up_reset_token_is_refused_before_any_password_hash(client, app):
    pin_clock(app)
    before = _hashes()
    response = await client.post(
        "/api/auth/reset-password", json={"token": "made-up", "password": "a brand new passphrase"}
    )
    assert response.status_code == 400 and response.json()["code"] == "invalid_token"
    assert _hashes() == before


async def test_reset_attempts_are_limited_per_ip_and_per_token(app, client, accounts, signed_in):
    pin_clock(app)
    token = mint_reset_token(accounts, signed_in.email)
    for _ in range(5):  # a valid token, passwords the policy refuses
        weak = await client.post("/api/auth/reset-password", json={"token": token, "password": "short"})
        assert weak.status_code == 400
    limited = await client.post(
        "/api/auth/reset-password", json={"token": token, "password": "a brand new passphrase"}
    )
    assert limited.status_code == 429 and "Retry-After" in limited.headers

    async with client_from(app, "198.51.100.7") as other:
        for attempt in range(20):
            guess = await other.post(
                "/api/auth/reset-password", json={"token": f"guess-{attempt}", "password": "a new passphrase"}
            )
            assert guess.status_code == 400
        refused = await other.post(
            "/api/auth/reset-password", json={"token": "guess-21", "password": "a new passphrase"}
        )
        assert refused.status_code == 429


async def test_password_changes_are_limited_per_user(app, client, signed_in):
    pin_clock(app)
    body = {"current_password": "not my password", "new_password": "a brand new passphrase"}
    for _ in range(10):
        wrong = await client.put("/api/settings/password", json=body, headers=signed_in.headers)
        assert wrong.status_code == 401
    limited = await client.put("/api/settings/password", json=body, headers=signed_in.headers)
    assert limited.status_code == 429


async def test_api_key_issuing_is_limited_per_user(app, client, signed_in):
    pin_clock(app)
    for n in range(20):
        created = await client.post("/api/keys", json={"name": f"k{n}"}, headers=signed_in.headers)
        assert created.status_code == 200
    limited = await client.post("/api/keys", json={"name": "one too many"}, headers=signed_in.headers)
    assert limited.status_code == 429


async def test_checkouts_are_limited_per_user(app, client, signed_in):
    pin_clock(app)
    for _ in range(30):
        answer = await client.post(
            "/api/billing/checkout", json={"pack_id": "no-such-pack"}, headers=signed_in.headers
        )
        assert answer.status_code != 429
    limited = await client.post(
        "/api/billing/checkout", json={"pack_id": "no-such-pack"}, headers=signed_in.headers
    )
    assert limited.status_code == 429


async def test_playground_creates_are_limited_per_user(app, client, signed_in):
    pin_clock(app)
    app.state.settings = app.state.settings.model_copy(update={"research_creates_per_minute": 2})
    body = {"question": "What is a queue?", "mode": "lite", "async": True}
    for _ in range(2):
        answer = await client.post("/api/playground/research", json=body, headers=signed_in.headers)
        assert answer.status_code != 429
    limited = await client.post("/api/playground/research", json=body, headers=signed_in.headers)
    assert limited.status_code == 429


async def test_failures_across_many_ips_lock_unknown_ips_out_but_not_the_owners_ip(app, accounts):
    """30 failures from 10 IPs put the account in soft lockout: a new IP is refused even with
    the right password, the IP the owner signed in from before still gets in."""
    pin_clock(app)
    email = accounts.new_email()
    async with client_from(app, "192.0.2.10") as home:
        assert (
            await home.post("/api/auth/signup", json={"email": email, "password": PASSWORD})
        ).status_code == 200
        assert (
            await home.post("/api/auth/login", json={"email": email, "password": PASSWORD})
        ).status_code == 200
    for n in range(10):
        async with client_from(app, f"203.0.113.{n + 1}") as bot:
            for _ in range(3):
                failed = await bot.post(
                    "/api/auth/login", json={"email": email, "password": "a wrong guess!"}
                )
                assert failed.status_code == 401
    async with client_from(app, "203.0.113.200") as stranger:
        refused = await stranger.post("/api/auth/login", json={"email": email, "password": PASSWORD})
        assert refused.status_code == 429 and "Retry-After" in refused.headers
    async with client_from(app, "192.0.2.10") as home:
        assert (
            await home.post("/api/auth/login", json={"email": email, "password": PASSWORD})
        ).status_code == 200


async def test_no_more_argon2_hashes_run_at_once_than_the_bound():
    passwords = Passwords(memory_kib=8192, concurrency=2)
    running: list[float] = []
    work = [asyncio.ensure_future(passwords.hash(f"password number {n}")) for n in range(8)]
    while not all(w.done() for w in work):
        running.append(HASHING._value.get())
        await asyncio.sleep(0)
    await asyncio.gather(*work)
    assert max(running) <= 2
    assert max(running) >= 1
