"""Admin stats: 30 zero-filled UTC days and the totals, from rows made through the services."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.accounts import open_account
from tests.admin.conftest import submit_job


async def test_stats_are_30_zero_filled_utc_days_and_live_totals(client, app, admin, member):
    from billing.repository import BillingRepository

    other = await open_account(client, app.state.db, credits=50)
    _, old, ancient = (
        await submit_job(client, member),
        await submit_job(client, member),
        await submit_job(client, other),
    )
    await client.post(
        "/api/support", json={"category": "bug", "subject": "s", "body": "b"}, headers=member.jwt
    )
    await client.post(f"/api/admin/users/{other.user_id}/suspend", headers=admin.jwt)  # cancels `ancient`
    async with app.state.db.transaction() as tx:
        billing = BillingRepository()
        paid = await billing.insert_payment(
            tx, member.user_id, kind="pack", pack_id="starter", credits=500, amount_cents=499
        )
        await billing.mark_payment_succeeded(tx, paid.id)
        await billing.insert_payment(
            tx, member.user_id, kind="pack", pack_id="starter", credits=500, amount_cents=499
        )  # pending: not revenue
        # Arrange ages: one job three days ago, one outside the window.
        await tx.execute(
            "UPDATE research_jobs SET created_at = now() - interval '3 days' WHERE id = %s", (old["id"],)
        )
        await tx.execute(
            "UPDATE research_jobs SET created_at = now() - interval '45 days' WHERE id = %s", (ancient["id"],)
        )

    response = await client.get("/api/admin/stats", headers=admin.jwt)
    assert response.status_code == 200, response.text
    stats = response.json()

    now = datetime.now(UTC)
    days = [datetime(now.year, now.month, now.day, tzinfo=UTC) - timedelta(days=29 - i) for i in range(30)]
    for series in (stats["signups_last_30d"], stats["jobs_last_30d"]):
        assert [datetime.fromisoformat(b["day"]) for b in series] == days
    assert (
        stats["signups_last_30d"][-1]["count"] == 3
        and sum(b["count"] for b in stats["signups_last_30d"]) == 3
    )
    jobs = {datetime.fromisoformat(b["day"]): b for b in stats["jobs_last_30d"]}
    three_days_ago = (now - timedelta(days=3)).replace(hour=0, minute=0, second=0, microsecond=0)
    assert jobs[days[-1]]["count"] == 1 and jobs[three_days_ago]["count"] == 1
    assert sum(b["count"] for b in stats["jobs_last_30d"]) == 2
    assert all(b["credits_charged_sum"] == 0 for b in stats["jobs_last_30d"])  # nothing settled yet
    assert {k: v for k, v in stats.items() if not k.endswith("_30d")} == {
        "topup_revenue_last_30d_cents": 499,
        "total_users": 3,
        "suspended_users": 1,
        "open_tickets": 1,
        "in_flight_jobs": 2,
        "ledger_balance_outstanding": (1000 - 30) + 50,
    }


async def test_stats_of_an_empty_service_are_zeros(client, admin):
    stats = (await client.get("/api/admin/stats", headers=admin.jwt)).json()
    assert len(stats["signups_last_30d"]) == len(stats["jobs_last_30d"]) == 30
    assert sum(b["count"] for b in stats["jobs_last_30d"]) == 0
    assert stats["total_users"] == 1 and stats["ledger_balance_outstanding"] == 0
