"""Who may call what, generated from the app's route table, so new routes are covered on arrival;
and no user can reach another user's jobs, keys, tickets or payments (404, never their data)."""

from __future__ import annotations

import uuid

from fastapi import routing
from fastapi.security.base import SecurityBase

from core.settings import Settings
from tests.accounts import open_account


def _security_schemes(dependant) -> set[str]:
    """The security schemes anywhere in a route's dependency tree."""
    found = set()
    for dep in dependant.dependencies:
        if isinstance(dep.call, SecurityBase):
            found.add(dep.call.scheme_name)
        found |= _security_schemes(dep)
    return found


def _operations(prefixes: tuple[str, ...]) -> list[tuple[str, str, set[str]]]:
    from api.app import create_app

    app = create_app(Settings(INFRENCE_ENV="dev", JWT_SECRET="route-table-" + "x" * 32))
    operations = []
    for context in routing.iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, routing.APIRoute) and context.path.startswith(prefixes):
            operations += [
                (method, context.path, _security_schemes(route.dependant)) for method in route.methods
            ]
    return sorted(operations, key=lambda op: (op[1], op[0]))


ADMIN_OPERATIONS = _operations(("/api/admin/",))
AUTHENTICATED_OPERATIONS = [op for op in _operations(("/api/", "/v1/")) if op[2]]


def _url(path: str) -> str:
    return path.replace("{id}", str(uuid.uuid4()))


def test_the_route_table_has_the_whole_admin_surface():
    assert len(ADMIN_OPERATIONS) >= 18  # the contract's 18 admin operations, plus additions
    assert all(op[2] == {"bearer_jwt"} for op in ADMIN_OPERATIONS)


async def test_every_admin_route_is_401_without_a_token_and_403_for_a_user(client, app):
    """One app for the whole table (a test per route would pay the app's setup sixty times)."""
    member = await open_account(client, app.state.db, credits=0)
    wrong = []
    for method, path, _ in ADMIN_OPERATIONS:
        anonymous = await client.request(method, _url(path))
        as_member = await client.request(method, _url(path), headers=member.jwt, json={})
        got = (
            (anonymous.status_code, anonymous.json()["code"]),
            (as_member.status_code, as_member.json()["code"]),
        )
        if got != ((401, "unauthorized"), (403, "forbidden")):
            wrong.append(f"{method} {path}: {got}")
    assert wrong == []


async def test_every_route_that_needs_a_credential_is_401_without_one(client):
    wrong = []
    for method, path, _ in AUTHENTICATED_OPERATIONS:
        response = await client.request(method, _url(path))
        if (response.status_code, response.json()["code"]) != (401, "unauthorized"):
            wrong.append(f"{method} {path}: {response.status_code}")
    assert wrong == []


def test_the_public_api_and_the_dashboard_both_need_credentials():
    paths = {op[1] for op in AUTHENTICATED_OPERATIONS}
    assert "/v1/research" in paths and "/api/support" in paths and "/api/keys" in paths
    assert "/api/auth/login" not in paths  # open routes stay open


async def test_a_user_cannot_reach_another_users_jobs_keys_tickets_or_payments(client, app):
    from billing.repository import BillingRepository

    owner = await open_account(client, app.state.db, credits=1000, verified=True)
    stranger = await open_account(client, app.state.db, credits=1000)
    job = (
        await client.post(
            "/v1/research", json={"question": "Whose job?", "mode": "lite", "async": True}, headers=owner.key
        )
    ).json()
    key_id = (await client.get("/api/keys", headers=owner.jwt)).json()[0]["id"]
    ticket = (
        await client.post(
            "/api/support",
            json={"category": "account", "subject": "Private", "body": "Mine only"},
            headers=owner.jwt,
        )
    ).json()
    async with app.state.db.connection() as conn:
        await BillingRepository().insert_payment(
            conn, owner.user_id, kind="pack", pack_id="starter", credits=500, amount_cents=500
        )

    by_id = [
        ("GET", f"/v1/research/{job['id']}", stranger.key),
        ("DELETE", f"/v1/research/{job['id']}", stranger.key),
        ("GET", f"/v1/research/{job['id']}/events", stranger.key),
        ("GET", f"/api/playground/research/{job['id']}", stranger.jwt),
        ("DELETE", f"/api/playground/research/{job['id']}", stranger.jwt),
        ("GET", f"/api/playground/research/{job['id']}/events", stranger.jwt),
        ("DELETE", f"/api/keys/{key_id}", stranger.jwt),
        ("POST", f"/api/keys/{key_id}/reset", stranger.jwt),
    ]
    for method, url, headers in by_id:
        response = await client.request(method, url, headers=headers)
        assert (response.status_code, response.json()["code"]) == (404, "not_found"), f"{method} {url}"
    assert (await client.get(f"/api/admin/tickets/{ticket['id']}", headers=stranger.jwt)).status_code == 403

    listings = [
        ("/v1/research", stranger.key),
        ("/api/logs", stranger.jwt),
        ("/api/dashboard/recent", stranger.jwt),
        ("/api/keys", stranger.jwt),
        ("/api/billing/payment-history", stranger.jwt),
    ]
    for url, headers in listings:
        response = await client.get(url, headers=headers)
        assert response.status_code == 200, url
        text = response.text
        assert job["id"] not in text and key_id not in text and ticket["id"] not in text, url
    assert (await client.get("/api/billing/payment-history", headers=stranger.jwt)).json() == []

    # The owner's things are untouched and still theirs.
    assert (await client.get(f"/v1/research/{job['id']}", headers=owner.key)).json()["status"] == "queued"
    assert (await client.get("/v1/credits", headers=owner.key)).status_code == 200
    assert len((await client.get("/api/billing/payment-history", headers=owner.jwt)).json()) == 1
