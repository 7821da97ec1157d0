"""Signup, login, `me`: the happy paths, every refusal, rate limits and suspension."""

from __future__ import annotations

import pytest

from tests.auth.conftest import PASSWORD


async def test_signup_signs_in_an_unverified_user_with_an_empty_credit_account(client, accounts):
    response = await client.post(
        "/api/auth/signup",
        json={"email": "  Ada@Example.COM ", "password": PASSWORD, "first_name": "Ada", "last_name": None},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["user"]["email"] == "ada@example.com"
    assert body["user"] | {"id": None, "created_at": None} == {
        "id": None,
        "email": "ada@example.com",
        "first_name": "Ada",
        "last_name": "",
        "email_verified": False,
        "marketing_emails_enabled": False,
        "is_admin": False,
        "created_at": None,
    }
    assert "webhook_secret" not in body["user"] and "password_hash" not in body["user"]
    assert body["access_token"] and body["refresh_token"] and body["expires_in"] == 900
    assert accounts.sql(
        "SELECT balance FROM credit_accounts c JOIN users u ON u.id = c.user_id "
        "WHERE u.email = 'ada@example.com'"
    ) == [(0,)]
    me = await accounts.me(body["access_token"])
    assert me.status_code == 200 and me.json() == body["user"]


async def test_password_is_stored_as_argon2id(accounts, signed_in):
    [(password_hash,)] = accounts.sql("SELECT password_hash FROM users WHERE email = %s", (signed_in.email,))
    assert password_hash.startswith("$argon2id$") and PASSWORD not in password_hash


@pytest.mark.parametrize(
    "body, field",
    [
        ({"email": "not-an-email", "password": PASSWORD}, "email"),
        ({"email": "a@b.c", "password": "short"}, "password"),
        ({"email": "a@b.c", "password": "x" * 257}, "password"),
        ({"email": "a@b.c", "password": "Password123"}, "password"),
        ({"email": "a@b.c", "password": PASSWORD, "first_name": "n" * 101}, "first_name"),
        ({"password": PASSWORD}, "email"),
        ({"email": "a@b.c", "password": 1234567890}, "password"),
    ],
)
async def test_signup_refuses_bad_input_naming_the_field(client, body, field):
    response = await client.post("/api/auth/signup", json=body)
    assert response.status_code == 400
    assert response.json()["code"] in ("invalid_request", "invalid_token")
    assert field in {e["field"] for e in response.json()["errors"]}


async def test_signup_with_a_registered_email_in_any_case_is_409(client, accounts, signed_in):
    response = await client.post(
        "/api/auth/signup", json={"email": signed_in.email.upper(), "password": PASSWORD}
    )
    assert response.status_code == 409
    assert response.json()["code"] == "email_taken"


async def test_login_with_the_right_password_starts_a_session(client, accounts, signed_in):
    response = await client.post(
        "/api/auth/login", json={"email": signed_in.email.upper(), "password": PASSWORD}
    )
    assert response.status_code == 200
    assert response.json()["user"]["id"] == signed_in.user["id"]
    assert (await accounts.me(response.json()["access_token"])).status_code == 200


@pytest.mark.parametrize("email_of", [lambda signed_in: signed_in.email, lambda _: "nobody@example.com"])
async def test_wrong_password_and_unknown_email_get_the_same_401(client, signed_in, email_of):
    response = await client.post(
        "/api/auth/login", json={"email": email_of(signed_in), "password": "wrong password!"}
    )
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid email or password", "code": "invalid_credentials"}


async def test_login_failures_trip_the_rate_limit_with_retry_after(client, signed_in):
    for _ in range(10):
        response = await client.post(
            "/api/auth/login", json={"email": signed_in.email, "password": "wrong password!"}
        )
        assert response.status_code == 401
    response = await client.post("/api/auth/login", json={"email": signed_in.email, "password": PASSWORD})
    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    assert 0 < int(response.headers["Retry-After"]) <= 15 * 60
    assert response.headers["X-RateLimit-Limit"] == "10"
    assert response.headers["X-RateLimit-Remaining"] == "0"


async def test_login_failures_from_one_ip_are_capped_across_emails(client, signed_in):
    for n in range(50):
        response = await client.post(
            "/api/auth/login", json={"email": f"guess{n}@example.com", "password": "x" * 10}
        )
        assert response.status_code == 401
    response = await client.post("/api/auth/login", json={"email": signed_in.email, "password": PASSWORD})
    assert response.status_code == 429
    assert response.headers["X-RateLimit-Limit"] == "50"


async def test_signups_are_limited_per_ip(client, accounts):
    for _ in range(10):
        await accounts.signup()
    response = await client.post(
        "/api/auth/signup", json={"email": accounts.new_email(), "password": PASSWORD}
    )
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0


async def test_me_without_a_token_is_401(client):
    response = await client.get("/api/auth/me")
    assert response.status_code == 401
    assert response.json() == {"detail": "Not authenticated", "code": "unauthorized"}
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_a_suspended_user_is_refused_everywhere_with_403(client, accounts, signed_in):
    accounts.suspend(signed_in.email)
    for response in (
        await accounts.me(signed_in.access_token),
        await client.get("/api/keys", headers=signed_in.headers),
        await client.post("/api/auth/login", json={"email": signed_in.email, "password": PASSWORD}),
        await accounts.refresh(signed_in.refresh_token),
    ):
        assert response.status_code == 403
        assert response.json()["code"] == "account_suspended"


async def test_admin_creation_normalises_and_validates_the_email(settings, app):
    from auth.service import create_admin_account
    from core.errors import InvalidRequest

    user, created = await create_admin_account(
        settings, settings.database_url, " Boss@Example.com ", PASSWORD
    )
    assert (user.email, user.is_admin, user.email_verified, created) == ("boss@example.com", True, True, True)
    with pytest.raises(InvalidRequest):
        await create_admin_account(settings, settings.database_url, "not-an-email", PASSWORD)
    with pytest.raises(InvalidRequest):
        await create_admin_account(settings, settings.database_url, "new@example.com", "short")
