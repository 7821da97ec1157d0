"""Admin user tools: search, detail, per-user jobs, and suspension end to end."""

from __future__ import annotations

import uuid
from datetime import timedelta

from tests.accounts import DEFAULT_PASSWORD, balance_of, open_account
from tests.admin.conftest import audit_actions, submit_job


async def test_search_matches_an_email_fragment_in_any_case_or_a_whole_id(client, app, admin):
    ada = await open_account(
        client, app.state.db, credits=0, email=f"ada.{uuid.uuid4().hex[:6]}@lovelace.org"
    )
    bob = await open_account(
        client, app.state.db, credits=25, email=f"bob_{uuid.uuid4().hex[:6]}@example.com"
    )

    async def emails(q: str) -> list[str]:
        response = await client.get("/api/admin/users", params={"q": q}, headers=admin.jwt)
        assert response.status_code == 200, response.text
        return [row["email"] for row in response.json()]

    assert await emails("LOVELACE") == [ada.email]
    assert await emails(str(bob.user_id)) == [bob.email]
    assert await emails("_") == [bob.email]  # a LIKE wildcard is matched literally
    assert await emails("%") == []
    assert set(await emails("")) == {admin.email, ada.email, bob.email}
    row = next(
        r for r in (await client.get("/api/admin/users", params={"q": bob.email}, headers=admin.jwt)).json()
    )
    assert row["credits"] == 25 and row["suspended_at"] is None and row["is_admin"] is False


async def test_pages_are_50_by_default_at_most_200_and_bad_values_are_400(client, app, admin):
    for _ in range(3):
        await open_account(client, app.state.db, credits=0)
    everyone = (await client.get("/api/admin/users", headers=admin.jwt)).json()
    assert len(everyone) == 4
    page = (await client.get("/api/admin/users", params={"limit": 2, "offset": 1}, headers=admin.jwt)).json()
    assert [u["id"] for u in page] == [u["id"] for u in everyone[1:3]]
    for params in (
        {"limit": 0},
        {"limit": 201},
        {"limit": "ten"},
        {"offset": -1},
        {"offset": 2**40},
        {"q": "a" * 321},
    ):
        response = await client.get("/api/admin/users", params=params, headers=admin.jwt)
        assert response.status_code == 400, params
        assert [e["field"] for e in response.json()["errors"]] == list(params), params


async def test_user_detail_counts_credits_jobs_and_open_tickets(client, app, admin, member):
    await submit_job(client, member)
    await client.post(
        "/api/support", json={"category": "bug", "subject": "s", "body": "b"}, headers=member.jwt
    )
    response = await client.get(f"/api/admin/users/{member.user_id}", headers=admin.jwt)
    assert response.status_code == 200
    detail = response.json()
    assert detail["email"] == member.email
    assert (detail["credits"], detail["jobs_count"], detail["open_tickets"]) == (1000 - 15, 1, 1)
    assert detail["stripe_customer_id"] is None and detail["suspended_at"] is None
    assert (await client.get(f"/api/admin/users/{uuid.uuid4()}", headers=admin.jwt)).status_code == 404
    assert (await client.get("/api/admin/users/not-a-uuid", headers=admin.jwt)).status_code == 400


async def test_a_users_jobs_are_listed_newest_first(client, app, admin, member):
    first, second = await submit_job(client, member), await submit_job(client, member)
    response = await client.get(f"/api/admin/users/{member.user_id}/jobs", headers=admin.jwt)
    assert [j["id"] for j in response.json()] == [second["id"], first["id"]]
    assert response.json()[0]["status"] == "queued"
    assert (await client.get(f"/api/admin/users/{uuid.uuid4()}/jobs", headers=admin.jwt)).status_code == 404


async def test_suspension_ends_sessions_refuses_keys_and_cancels_live_jobs(client, app, admin, member):
    from api.research.repository import JobRepository

    login = (
        await client.post("/api/auth/login", json={"email": member.email, "password": DEFAULT_PASSWORD})
    ).json()
    queued, running = await submit_job(client, member), await submit_job(client, member, mode="standard")
    async with app.state.db.transaction() as tx:  # a worker picks up the oldest job... then the next one
        claimed = [
            await JobRepository().claim_next(tx, "test-worker", timedelta(minutes=5)) for _ in range(2)
        ]
    assert [j.id for j in claimed] == [uuid.UUID(queued["id"]), uuid.UUID(running["id"])]
    queued_again = await submit_job(client, member)
    assert await balance_of(app.state.db, member) == 1000 - 15 - 60 - 15

    response = await client.post(f"/api/admin/users/{member.user_id}/suspend", headers=admin.jwt)
    assert response.status_code == 200, response.text
    assert response.json()["suspended_at"] is not None

    refused = await client.get("/v1/credits", headers=member.key)
    assert (refused.status_code, refused.json()["code"]) == (403, "account_suspended")
    assert (await client.get("/api/auth/me", headers=member.jwt)).status_code == 401  # its session ended
    refresh = await client.post("/api/auth/refresh", json={"refresh_token": login["refresh_token"]})
    assert refresh.status_code == 401
    relogin = await client.post("/api/auth/login", json={"email": member.email, "password": DEFAULT_PASSWORD})
    assert (relogin.status_code, relogin.json()["code"]) == (403, "account_suspended")
    # The queued job ended at once with its reservation released; running ones are asked to stop.
    async with app.state.db.connection() as conn:
        jobs = {
            str(j): await JobRepository().get(conn, j)
            for j in (uuid.UUID(queued_again["id"]), *(c.id for c in claimed))
        }
    assert jobs[queued_again["id"]].status == "canceled" and jobs[queued_again["id"]].credits_charged == 0
    assert all(jobs[str(c.id)].cancel_requested_at is not None for c in claimed)
    assert await balance_of(app.state.db, member) == 1000 - 15 - 60

    restored = await client.post(f"/api/admin/users/{member.user_id}/unsuspend", headers=admin.jwt)
    assert restored.status_code == 200 and restored.json()["suspended_at"] is None
    assert (
        await client.get("/v1/credits", headers=member.key)
    ).status_code == 200  # the same key works again
    stale = await client.post("/api/auth/refresh", json={"refresh_token": login["refresh_token"]})
    assert stale.status_code == 401  # ended sessions stay ended
    again = await client.post("/api/auth/login", json={"email": member.email, "password": DEFAULT_PASSWORD})
    assert again.status_code == 200
    assert await audit_actions(app, member.user_id) == ["user.suspend", "user.unsuspend"]


async def test_suspending_twice_changes_and_audits_once(client, app, admin, member):
    for _ in range(2):
        assert (
            await client.post(f"/api/admin/users/{member.user_id}/suspend", headers=admin.jwt)
        ).status_code == 200
    assert await audit_actions(app, member.user_id) == ["user.suspend"]
    assert (
        await client.post(f"/api/admin/users/{uuid.uuid4()}/suspend", headers=admin.jwt)
    ).status_code == 404


async def test_an_admin_cannot_suspend_themselves(client, admin):
    response = await client.post(f"/api/admin/users/{admin.user_id}/suspend", headers=admin.jwt)
    assert response.status_code == 400
    assert (await client.get("/api/auth/me", headers=admin.jwt)).status_code == 200
