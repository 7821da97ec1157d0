"""Refresh rotation, reuse detection, logout, and access tokens that must be refused."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from auth.tokens import AccessTokens


async def test_refresh_rotates_the_pair(accounts, signed_in):
    response = await accounts.refresh(signed_in.refresh_token)
    assert response.status_code == 200
    body = response.json()
    assert body["refresh_token"] != signed_in.refresh_token
    assert body["user"]["id"] == signed_in.user["id"]
    assert (await accounts.me(body["access_token"])).status_code == 200


async def test_reusing_a_rotated_refresh_token_revokes_the_whole_family(accounts, signed_in):
    newer = (await accounts.refresh(signed_in.refresh_token)).json()
    reused = await accounts.refresh(signed_in.refresh_token)
    assert reused.status_code == 401
    assert (await accounts.refresh(newer["refresh_token"])).status_code == 401
    assert (await accounts.me(newer["access_token"])).status_code == 401
    other_session = await accounts.login(signed_in.email)
    assert (await accounts.me(other_session.access_token)).status_code == 200


async def test_unknown_or_expired_refresh_tokens_are_401(accounts, signed_in):
    assert (await accounts.refresh("not-a-token")).status_code == 401
    accounts.sql(
        "UPDATE refresh_tokens SET created_at = now() - interval '31 days', "
        "expires_at = now() - interval '1 day'"
    )
    response = await accounts.refresh(signed_in.refresh_token)
    assert response.status_code == 401 and response.json()["code"] == "unauthorized"


async def test_refresh_tokens_are_stored_hashed(accounts, signed_in):
    rows = accounts.sql("SELECT token_hash FROM refresh_tokens")
    assert rows and all(signed_in.refresh_token.encode() not in bytes(h) for (h,) in rows)


async def test_logout_ends_the_session(client, accounts, signed_in):
    response = await client.post("/api/auth/logout", json={"refresh_token": signed_in.refresh_token})
    assert response.status_code == 200
    assert (await accounts.refresh(signed_in.refresh_token)).status_code == 401
    assert (await accounts.me(signed_in.access_token)).status_code == 401
    again = await client.post("/api/auth/logout", json={"refresh_token": signed_in.refresh_token})
    assert again.status_code == 200


def _claims(user_id: str, **overrides) -> dict:
    now = datetime.now(UTC)
    return {
        "sub": user_id,
        "sid": str(uuid.uuid4()),
        "typ": "access",
        "jti": uuid.uuid4().hex,
        "iat": now,
        "exp": now + timedelta(minutes=5),
    } | overrides


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, default=str).encode()).rstrip(b"=").decode()


def _forged(settings, signed_in, kind: str) -> str:
    secret, user_id = settings.jwt_secret, signed_in.user["id"]
    kid = settings.jwt_key_id
    real = jwt.decode(signed_in.access_token, secret, algorithms=["HS256"])
    if kind == "tampered":
        header, _payload, signature = signed_in.access_token.split(".")
        return ".".join([header, _b64(real | {"sub": str(uuid.uuid4())}), signature])
    if kind == "expired":
        past = datetime.now(UTC) - timedelta(hours=1)
        return jwt.encode(
            real | {"iat": past, "exp": past + timedelta(minutes=15)}, secret, headers={"kid": kid}
        )
    if kind == "alg_none":
        return f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{_b64(real)}."
    if kind == "wrong_secret":
        return jwt.encode(real, "another-secret-" + "y" * 32, headers={"kid": kid})
    if kind == "wrong_kid":
        return jwt.encode(real, secret, headers={"kid": "other"})
    if kind == "missing_jti":
        return jwt.encode({k: v for k, v in real.items() if k != "jti"}, secret, headers={"kid": kid})
    if kind == "refresh_typ":
        return jwt.encode(real | {"typ": "refresh"}, secret, headers={"kid": kid})
    if kind == "hs512":
        return jwt.encode(real, secret, algorithm="HS512", headers={"kid": kid})
    if kind == "unknown_session":
        return jwt.encode(_claims(user_id), secret, headers={"kid": kid})
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind",
    [
        "tampered",
        "expired",
        "alg_none",
        "wrong_secret",
        "wrong_kid",
        "missing_jti",
        "refresh_typ",
        "hs512",
        "unknown_session",
    ],
)
async def test_forged_or_stale_access_tokens_are_refused(accounts, settings, signed_in, kind):
    response = await accounts.me(_forged(settings, signed_in, kind))
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"


async def test_access_tokens_carry_the_required_claims_and_a_kid(settings, signed_in):
    header = jwt.get_unverified_header(signed_in.access_token)
    assert header["alg"] == "HS256" and header["kid"] == settings.jwt_key_id == "k1"
    claims = jwt.decode(signed_in.access_token, settings.jwt_secret, algorithms=["HS256"])
    assert {"sub", "exp", "iat", "jti", "typ"} <= claims.keys()
    assert claims["exp"] - claims["iat"] == 15 * 60 and claims["typ"] == "access"


def test_the_kid_is_the_configured_name_and_reveals_nothing_of_the_secret():
    secret = "s" * 40
    tokens = AccessTokens(secret, "2026-11")
    token = tokens.issue(uuid.uuid4(), uuid.uuid4())
    kid = jwt.get_unverified_header(token)["kid"]
    assert kid == "2026-11"
    assert kid not in hashlib.sha256(secret.encode()).hexdigest()


def refresh_cookie(response) -> dict[str, str]:
    """The `infrence_refresh` Set-Cookie of a response: its value and attributes."""
    [header] = [h for h in response.headers.get_list("set-cookie") if h.startswith("infrence_refresh=")]
    name_value, *attributes = [part.strip() for part in header.split(";")]
    cookie = {"value": name_value.partition("=")[2]}
    for attribute in attributes:
        key, _, value = attribute.partition("=")
        cookie[key.lower()] = value or "yes"
    return cookie


async def test_the_refresh_token_is_also_a_strict_cookie_only_the_refresh_path_receives(
    client, accounts, signed_in
):
    login = await client.post(
        "/api/auth/login", json={"email": signed_in.email, "password": "correct horse battery"}
    )
    cookie = refresh_cookie(login)
    assert cookie["value"] == login.json()["refresh_token"]  # the JSON body is unchanged for API clients
    assert cookie["path"] == "/api/auth/refresh" and cookie["samesite"].lower() == "strict"
    assert {"httponly", "secure"} <= set(cookie) and int(cookie["max-age"]) > 0
    hint = [h for h in login.headers.get_list("set-cookie") if h.startswith("infrence_signed_in=1;")]
    assert hint and "HttpOnly" not in hint[0]  # the dashboard may read it: it holds nothing secret

    refreshed = await client.post(
        "/api/auth/refresh", json={}, headers={"Cookie": f"infrence_refresh={cookie['value']}"}
    )
    assert refreshed.status_code == 200, refreshed.text
    rotated = refresh_cookie(refreshed)
    assert rotated["value"] == refreshed.json()["refresh_token"] != cookie["value"]
    assert (await accounts.refresh(cookie["value"])).status_code == 401  # spent: rotation as before
    assert (await client.post("/api/auth/refresh", json={})).status_code == 401  # neither body nor cookie


async def test_logout_with_the_access_token_ends_its_session_and_clears_the_cookie(client, accounts):
    signed_in = await accounts.signup()
    cookie = refresh_cookie(
        await client.post(
            "/api/auth/login", json={"email": signed_in.email, "password": "correct horse battery"}
        )
    )
    other_session = await accounts.login(signed_in.email)
    login = await client.post(
        "/api/auth/refresh", json={}, headers={"Cookie": f"infrence_refresh={cookie['value']}"}
    )
    access, cookie = login.json()["access_token"], refresh_cookie(login)

    out = await client.post("/api/auth/logout", json={}, headers={"Authorization": f"Bearer {access}"})
    assert out.status_code == 200
    cleared = refresh_cookie(out)
    assert (
        cleared["value"] in ("", '""')
        and cleared["max-age"] == "0"
        and cleared["path"] == "/api/auth/refresh"
    )
    assert (await accounts.me(access)).status_code == 401
    assert (await accounts.refresh(cookie["value"])).status_code == 401
    assert (await accounts.me(other_session.access_token)).status_code == 200  # only this session ended
