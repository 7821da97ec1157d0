"""Credits over HTTP: balances for the dashboard and the API, and the admin ledger tools."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from ledger import LedgerService


@pytest.fixture
def settings(settings):
    """argon2 at its smallest memory cost, so signing up stays fast."""
    return settings.model_copy(update={"password_hash_memory_kib": 1024})


@dataclass
class Member:
    id: uuid.UUID
    jwt: dict[str, str]


@pytest.fixture
def sign_up(client):
    async def make() -> Member:
        response = await client.post(
            "/api/auth/signup",
            json={
                "email": f"ledger-{uuid.uuid4().hex[:10]}@example.com",
                "password": "correct horse battery",
            },
        )
        assert response.status_code == 200, response.text
        body = response.json()
        return Member(uuid.UUID(body["user"]["id"]), {"Authorization": f"Bearer {body['access_token']}"})

    return make


@pytest.fixture
async def admin(app, sign_up) -> Member:
    member = await sign_up()
    async with app.state.db.connection() as conn:
        await conn.execute("UPDATE users SET is_admin = true WHERE id = %s", (member.id,))
    return member


@pytest.fixture
def ledger_of_app(app) -> LedgerService:
    return LedgerService(app.state.db)


def balance(credits: int, usd: str) -> dict:
    """A balance without a plan: all of it purchased, no overage."""
    return {
        "credits": credits,
        "usd": usd,
        "plan_credits": 0,
        "purchased_credits": credits,
        "overage_credits": 0,
        "overage_cap": 0,
    }


async def test_the_dashboard_and_the_api_show_the_same_exact_balance(client, sign_up, ledger_of_app):
    member = await sign_up()
    assert (await client.get("/api/credits/balance", headers=member.jwt)).json() == balance(0, "0.00")
    await ledger_of_app.grant(member.id, 1234, kind="purchase", idempotency_key="payment:p1")
    key = await client.post("/api/keys", json={"name": "ledger"}, headers=member.jwt)
    api_key = {"Authorization": f"Bearer {key.json()['plaintext']}"}
    for path, headers in (("/api/credits/balance", member.jwt), ("/v1/credits", api_key)):
        response = await client.get(path, headers=headers)
        assert (response.status_code, response.json()) == (200, balance(1234, "12.34"))


@pytest.mark.parametrize("path", ["/api/credits/balance", "/v1/credits"])
async def test_a_balance_needs_credentials(client, path):
    response = await client.get(path)
    assert (response.status_code, response.json()["code"]) == (401, "unauthorized")


async def test_admin_tools_are_for_admins_only(client, sign_up):
    member, other = await sign_up(), await sign_up()
    credits, ledger = f"/api/admin/users/{other.id}/credits", f"/api/admin/users/{other.id}/ledger"
    body = {"delta_credits": 5, "note": "hi"}
    assert (await client.post(credits, json=body)).status_code == 401
    assert (await client.get(ledger)).status_code == 401
    assert (await client.post(credits, json=body, headers=member.jwt)).status_code == 403
    assert (await client.get(ledger, headers=member.jwt)).status_code == 403


async def test_an_admin_adjustment_resubmitted_with_its_key_is_applied_once(client, admin, sign_up):
    member = await sign_up()
    url = f"/api/admin/users/{member.id}/credits"
    body = {"delta_credits": 500, "note": "goodwill", "idempotency_key": "d3b0c4e2"}
    first = await client.post(url, json=body, headers=admin.jwt)
    again = await client.post(url, json=body, headers=admin.jwt)
    assert (first.status_code, first.json()) == (200, {"balance_after": 500})
    assert again.json() == first.json()
    unkeyed = {"delta_credits": -100, "note": "test credits"}
    assert (await client.post(url, json=unkeyed, headers=admin.jwt)).json() == {"balance_after": 400}
    assert (await client.post(url, json=unkeyed, headers=admin.jwt)).json() == {"balance_after": 300}
    rows = (await client.get(f"/api/admin/users/{member.id}/ledger", headers=admin.jwt)).json()
    assert [(r["kind"], r["delta"], r["balance_after"]) for r in rows] == [
        ("admin_adjust", -100, 300),
        ("admin_adjust", -100, 400),
        ("admin_adjust", 500, 500),
    ]
    assert rows[-1]["idempotency_key"] == "admin:d3b0c4e2" and rows[-1]["note"] == "goodwill"
    reused = await client.post(url, json={**body, "delta_credits": 7}, headers=admin.jwt)
    assert (reused.status_code, reused.json()["code"]) == (409, "conflict")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"delta_credits": 0, "note": "n"}, "delta_credits"),
        ({"delta_credits": -11, "note": "more than the balance"}, "delta_credits"),
        ({"delta_credits": 1.5, "note": "n"}, "delta_credits"),
        ({"delta_credits": "5", "note": "n"}, "delta_credits"),
        ({"delta_credits": True, "note": "n"}, "delta_credits"),
        ({"delta_credits": 10**13, "note": "n"}, "delta_credits"),
        ({"delta_credits": 5, "note": "   "}, "note"),
        ({"delta_credits": 5}, "note"),
        ({"delta_credits": 5, "note": "n", "idempotency_key": ""}, "idempotency_key"),
    ],
)
async def test_a_wrong_adjustment_is_a_400_naming_the_field(
    client, admin, sign_up, ledger_of_app, body, field
):
    member = await sign_up()
    await ledger_of_app.grant(member.id, 10, kind="purchase", idempotency_key=f"payment:{member.id}")
    response = await client.post(f"/api/admin/users/{member.id}/credits", json=body, headers=admin.jwt)
    assert response.status_code == 400, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert (await client.get("/api/credits/balance", headers=member.jwt)).json()["credits"] == 10


async def test_an_unknown_user_is_a_404(client, admin):
    stranger = uuid.uuid4()
    adjusted = await client.post(
        f"/api/admin/users/{stranger}/credits", json={"delta_credits": 5, "note": "n"}, headers=admin.jwt
    )
    listed = await client.get(f"/api/admin/users/{stranger}/ledger", headers=admin.jwt)
    assert (adjusted.status_code, listed.status_code) == (404, 404)
    assert (await client.get("/api/admin/users/not-a-uuid/ledger", headers=admin.jwt)).status_code == 400


async def test_the_ledger_pages_newest_first(client, admin, sign_up, ledger_of_app):
    member = await sign_up()
    for i in range(1, 56):
        await ledger_of_app.grant(
            member.id, i, kind="purchase", idempotency_key=f"payment:{i}", related_id=f"p{i}"
        )
    url = f"/api/admin/users/{member.id}/ledger"
    first_page = (await client.get(url, headers=admin.jwt)).json()
    assert [r["delta"] for r in first_page] == list(range(55, 5, -1))
    assert set(first_page[0]) == {
        "id",
        "created_at",
        "kind",
        "delta",
        "plan_delta",
        "overage_delta",
        "balance_after",
        "related_id",
        "note",
        "idempotency_key",
    }
    assert first_page[0]["balance_after"] == sum(range(1, 56)) and first_page[0]["related_id"] == "p55"
    rest = (await client.get(url, params={"limit": 200, "offset": 50}, headers=admin.jwt)).json()
    assert [r["delta"] for r in rest] == [5, 4, 3, 2, 1]
    for params in ({"limit": 0}, {"limit": 201}, {"limit": "many"}, {"offset": -1}):
        response = await client.get(url, params=params, headers=admin.jwt)
        assert response.status_code == 400 and response.json()["errors"][0]["field"] == next(iter(params))
