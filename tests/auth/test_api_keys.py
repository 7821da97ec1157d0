"""API keys: create, list, revoke, reset, and the `ApiKeyCaller` dependency that /v1 uses."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import APIRouter

from api.app import create_app
from auth.api_keys import is_well_formed
from auth.deps import AdminUser, ApiKeyCaller, PlaygroundUser
from tests.auth.conftest import AccountsApi


def _probe_router() -> APIRouter:
    """Routes that only report who the dependencies say is calling."""
    router = APIRouter()

    @router.get("/_probe/key")
    async def key_probe(caller: ApiKeyCaller) -> dict:
        return {"user": str(caller.user.id), "key": str(caller.api_key_id)}

    @router.get("/_probe/admin")
    async def admin_probe(user: AdminUser) -> dict:
        return {"user": str(user.id)}

    @router.get("/_probe/playground")
    async def playground_probe(user: PlaygroundUser) -> dict:
        return {"user": str(user.id)}

    return router


@pytest.fixture
async def client(settings, clean_storage):
    application = create_app(settings)
    application.router.routes[:0] = _probe_router().routes  # ahead of the dashboard's catch-all
    async with (
        application.router.lifespan_context(application),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://testserver"
        ) as http,
    ):
        yield http


async def _create(client, signed_in, **body) -> dict:
    response = await client.post("/api/keys", headers=signed_in.headers, json=body)
    assert response.status_code == 200, response.text
    return response.json()


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_a_new_key_is_shown_once_and_listed_without_its_secret(client, accounts, signed_in):
    created = await _create(client, signed_in)
    assert created["name"] == "Default"
    assert is_well_formed(created["plaintext"]) and created["plaintext"].startswith(created["prefix"])
    named = await _create(client, signed_in, name="  CI  ")
    assert named["name"] == "CI"
    listing = await client.get("/api/keys", headers=signed_in.headers)
    assert listing.status_code == 200
    assert [k["id"] for k in listing.json()] == [named["id"], created["id"]]
    assert all("plaintext" not in k and k["last_used_at"] is None for k in listing.json())
    stored = accounts.sql("SELECT key_hash FROM api_keys")
    assert all(created["plaintext"].encode() not in bytes(h) for (h,) in stored)


async def test_keys_need_a_signed_in_user(client):
    assert (await client.get("/api/keys")).status_code == 401
    assert (await client.post("/api/keys", json={})).status_code == 401
    assert (await client.delete(f"/api/keys/{uuid.uuid4()}")).status_code == 401
    assert (await client.post(f"/api/keys/{uuid.uuid4()}/reset")).status_code == 401


async def test_a_key_identifies_its_caller_and_marks_last_use_once_a_minute(client, accounts, signed_in):
    created = await _create(client, signed_in)
    for _ in range(3):
        response = await client.get("/_probe/key", headers=_bearer(created["plaintext"]))
        assert response.status_code == 200
    assert response.json() == {"user": signed_in.user["id"], "key": created["id"]}
    [(first_use,)] = accounts.sql("SELECT last_used_at FROM api_keys")
    assert first_use is not None
    await client.get("/_probe/key", headers=_bearer(created["plaintext"]))
    assert accounts.sql("SELECT last_used_at FROM api_keys") == [(first_use,)]


async def test_a_revoked_key_answers_401_at_once(client, signed_in):
    created = await _create(client, signed_in)
    response = await client.delete(f"/api/keys/{created['id']}", headers=signed_in.headers)
    assert response.status_code == 200
    refused = await client.get("/_probe/key", headers=_bearer(created["plaintext"]))
    assert refused.status_code == 401 and refused.json()["code"] == "unauthorized"
    assert (await client.get("/api/keys", headers=signed_in.headers)).json() == []
    again = await client.delete(f"/api/keys/{created['id']}", headers=signed_in.headers)
    assert again.status_code == 404


async def test_a_reset_key_gets_a_new_secret_and_the_old_one_dies(client, signed_in):
    created = await _create(client, signed_in, name="prod")
    response = await client.post(f"/api/keys/{created['id']}/reset", headers=signed_in.headers)
    assert response.status_code == 200
    reset = response.json()
    assert (reset["id"], reset["name"]) == (created["id"], "prod")
    assert reset["plaintext"] != created["plaintext"]
    assert (await client.get("/_probe/key", headers=_bearer(created["plaintext"]))).status_code == 401
    assert (await client.get("/_probe/key", headers=_bearer(reset["plaintext"]))).status_code == 200


async def test_other_users_keys_and_unknown_ids_are_404(client, accounts, signed_in):
    created = await _create(client, signed_in)
    intruder = await accounts.signup()
    for response in (
        await client.delete(f"/api/keys/{created['id']}", headers=intruder.headers),
        await client.post(f"/api/keys/{created['id']}/reset", headers=intruder.headers),
        await client.delete(f"/api/keys/{uuid.uuid4()}", headers=signed_in.headers),
    ):
        assert response.status_code == 404
    bad_id = await client.delete("/api/keys/not-a-uuid", headers=signed_in.headers)
    assert bad_id.status_code == 400 and bad_id.json()["errors"][0]["field"] == "id"


@pytest.mark.parametrize(
    "header", [{}, {"Authorization": "Bearer ifr_madeup"}, {"Authorization": "Basic dXNlcjpwYXNz"}]
)
async def test_missing_or_made_up_keys_are_401(client, header):
    response = await client.get("/_probe/key", headers=header)
    assert response.status_code == 401


async def test_a_well_formed_but_unknown_key_is_401(client):
    from auth.api_keys import new_key

    assert (await client.get("/_probe/key", headers=_bearer(new_key()))).status_code == 401


async def test_a_suspended_users_key_is_403(client, accounts, signed_in):
    created = await _create(client, signed_in)
    accounts.suspend(signed_in.email)
    response = await client.get("/_probe/key", headers=_bearer(created["plaintext"]))
    assert response.status_code == 403 and response.json()["code"] == "account_suspended"


async def test_admin_dependency_refuses_non_admins(client, accounts, signed_in):
    assert (await client.get("/_probe/admin")).status_code == 401
    refused = await client.get("/_probe/admin", headers=signed_in.headers)
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    accounts.sql("UPDATE users SET is_admin = true")
    assert (await client.get("/_probe/admin", headers=signed_in.headers)).status_code == 200


async def test_playground_dependency_takes_the_token_from_the_query_too(client, signed_in):
    by_query = await client.get("/_probe/playground", params={"access_token": signed_in.access_token})
    assert by_query.status_code == 200 and by_query.json() == {"user": signed_in.user["id"]}
    assert (await client.get("/_probe/playground", headers=signed_in.headers)).status_code == 200
    assert (await client.get("/_probe/playground")).status_code == 401
    assert (await client.get("/_probe/playground", params={"access_token": "junk"})).status_code == 401


def test_the_accounts_api_helper_is_importable():
    assert AccountsApi.new_email().endswith("@example.com")
