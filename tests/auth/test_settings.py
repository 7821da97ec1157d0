"""Profile, marketing flag, password change and the webhook signing secret."""

from __future__ import annotations

import pytest

from tests.auth.conftest import PASSWORD


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("PUT", "/api/settings/profile", {"first_name": "A", "last_name": "B"}),
        ("PUT", "/api/settings/password", {"current_password": PASSWORD, "new_password": "x" * 12}),
        ("PUT", "/api/settings/marketing", {"enabled": True}),
        ("GET", "/api/settings/webhook-secret", None),
        ("POST", "/api/settings/webhook-secret/rotate", None),
    ],
)
async def test_settings_need_a_signed_in_user(client, method, path, body):
    response = await client.request(method, path, json=body)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"


async def test_profile_update_is_trimmed_and_shown_by_me(client, accounts, signed_in):
    response = await client.put(
        "/api/settings/profile",
        headers=signed_in.headers,
        json={"first_name": "  Grace ", "last_name": "Hopper"},
    )
    assert response.status_code == 200
    me = (await accounts.me(signed_in.access_token)).json()
    assert (me["first_name"], me["last_name"]) == ("Grace", "Hopper")
    too_long = await client.put(
        "/api/settings/profile",
        headers=signed_in.headers,
        json={"first_name": "x" * 101, "last_name": "Hopper"},
    )
    assert too_long.status_code == 400 and too_long.json()["errors"][0]["field"] == "first_name"


async def test_marketing_flag_round_trips(client, accounts, signed_in):
    response = await client.put("/api/settings/marketing", headers=signed_in.headers, json={"enabled": True})
    assert response.status_code == 200
    assert (await accounts.me(signed_in.access_token)).json()["marketing_emails_enabled"] is True
    bad = await client.put("/api/settings/marketing", headers=signed_in.headers, json={"enabled": "maybe"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "enabled"


async def test_password_change_needs_the_current_password(client, signed_in):
    response = await client.put(
        "/api/settings/password",
        headers=signed_in.headers,
        json={"current_password": "wrong password", "new_password": "a brand new passphrase"},
    )
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"


async def test_password_change_refuses_a_weak_new_password(client, signed_in):
    response = await client.put(
        "/api/settings/password",
        headers=signed_in.headers,
        json={"current_password": PASSWORD, "new_password": "short"},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "new_password"


async def test_password_change_keeps_this_session_and_ends_the_others(client, accounts, signed_in):
    other = await accounts.login(signed_in.email)
    response = await client.put(
        "/api/settings/password",
        headers=signed_in.headers,
        json={"current_password": PASSWORD, "new_password": "a brand new passphrase"},
    )
    assert response.status_code == 200
    assert (await accounts.me(signed_in.access_token)).status_code == 200
    assert (await accounts.refresh(signed_in.refresh_token)).status_code == 200
    assert (await accounts.me(other.access_token)).status_code == 401
    assert (await accounts.refresh(other.refresh_token)).status_code == 401
    await accounts.login(signed_in.email, "a brand new passphrase")


async def test_webhook_secret_is_shown_to_its_owner_and_rotates(client, accounts, signed_in):
    first = await client.get("/api/settings/webhook-secret", headers=signed_in.headers)
    assert first.status_code == 200
    secret = first.json()["webhook_secret"]
    assert secret.startswith("whsec_") and len(secret) > 40
    rotated = await client.post("/api/settings/webhook-secret/rotate", headers=signed_in.headers)
    assert rotated.status_code == 200
    assert (
        rotated.json()["webhook_secret"].startswith("whsec_") and rotated.json()["webhook_secret"] != secret
    )
    again = await client.get("/api/settings/webhook-secret", headers=signed_in.headers)
    assert again.json() == rotated.json()
    other = await accounts.signup()
    theirs = await client.get("/api/settings/webhook-secret", headers=other.headers)
    assert theirs.json()["webhook_secret"] != again.json()["webhook_secret"]
