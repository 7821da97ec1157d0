"""Admin job tools: filtered lists, the raw request and response, and refunds that move money once."""

from __future__ import annotations

import uuid

import pytest

from tests.accounts import balance_of, open_account
from tests.admin.conftest import audit_actions, submit_job


@pytest.fixture
def settle(app):
    """Finish a job the way a worker does (settlement), charging the mode's price."""
    from api.research.repository import JobRepository
    from api.research.service import JobOutcome, JobSettlement

    async def finish(job_id: str):
        async with app.state.db.connection() as conn:
            job = await JobRepository().get(conn, uuid.UUID(job_id))
        outcome = JobOutcome(
            status="succeeded",
            stop_reason="complete",
            cost_usd_micros=20_000,
            result={"brief": "PostgreSQL is a database [1].", "sources": []},
        )
        return await JobSettlement(app.state.db, app.state.redis, app.state.settings).settle(job, outcome)

    return finish


@pytest.fixture
async def charged_job(client, member, settle) -> dict:
    job = await submit_job(client, member)  # lite: 15 credits
    await settle(job["id"])
    return job


async def ledger_rows(app, job_id) -> list[dict]:
    async with app.state.db.connection() as conn:
        cur = await conn.execute(
            "SELECT kind, delta FROM credit_ledger WHERE related_id = %s ORDER BY seq", (str(job_id),)
        )
        return await cur.fetchall()


async def test_jobs_are_filtered_by_exact_user_email_and_status(client, app, admin, member, settle):
    other = await open_account(client, app.state.db, credits=100)
    done, queued, others = (
        await submit_job(client, member),
        await submit_job(client, member),
        await submit_job(client, other),
    )
    await settle(done["id"])

    async def ids(**params) -> list[str]:
        response = await client.get("/api/admin/jobs", params=params, headers=admin.jwt)
        assert response.status_code == 200, response.text
        return [row["id"] for row in response.json()]

    assert await ids() == [others["id"], queued["id"], done["id"]]
    assert await ids(user_email=member.email.upper()) == [queued["id"], done["id"]]
    assert await ids(user_email=member.email, status="succeeded") == [done["id"]]
    assert await ids(status="queued", limit=1) == [others["id"]]
    assert await ids(user_email="nobody@example.com") == []
    row = (await client.get("/api/admin/jobs", params={"status": "succeeded"}, headers=admin.jwt)).json()[0]
    assert (row["user_email"], row["credits_charged"], row["cost_usd_micros"]) == (member.email, 15, 20_000)
    bad = await client.get("/api/admin/jobs", params={"status": "done"}, headers=admin.jwt)
    assert (bad.status_code, bad.json()["errors"][0]["field"]) == (400, "status")


async def test_job_detail_shows_the_raw_request_and_response(client, admin, member, charged_job):
    response = await client.get(f"/api/admin/jobs/{charged_job['id']}", headers=admin.jwt)
    assert response.status_code == 200
    detail = response.json()
    assert detail["request"] == {"question": "What is PostgreSQL?", "mode": "lite", "async": True} | {
        k: v for k, v in detail["request"].items() if k not in ("question", "mode", "async")
    }
    assert detail["response"]["brief"] == "PostgreSQL is a database [1]."
    assert (detail["credits_reserved"], detail["credits_charged"], detail["status"]) == (15, 15, "succeeded")
    assert (await client.get(f"/api/admin/jobs/{uuid.uuid4()}", headers=admin.jwt)).status_code == 404


async def test_a_refund_writes_one_ledger_row_and_a_resubmit_with_its_key_writes_nothing(
    client, app, admin, member, charged_job
):
    url, key = f"/api/admin/jobs/{charged_job['id']}/refund", {"Idempotency-Key": "refund-1"}
    before = await balance_of(app.state.db, member)
    first = await client.post(url, json={"credits": 5, "note": "slow answer"}, headers={**admin.jwt, **key})
    assert first.status_code == 200, first.text
    again = await client.post(url, json={"credits": 5, "note": "slow answer"}, headers={**admin.jwt, **key})
    assert again.json() == first.json()
    assert first.json()["credits_refunded"] == 5 and first.json()["balance_after"] == before + 5
    assert await balance_of(app.state.db, member) == before + 5
    assert await ledger_rows(app, charged_job["id"]) == [
        {"kind": "reserve", "delta": -15},
        {"kind": "refund", "delta": 5},
    ]
    assert await audit_actions(app, charged_job["id"]) == ["job.refund"]
    detail = (await client.get(f"/api/admin/jobs/{charged_job['id']}", headers=admin.jwt)).json()
    assert detail["credits_refunded"] == 5
    other_amount = await client.post(url, json={"credits": 4, "note": "x"}, headers={**admin.jwt, **key})
    assert other_amount.status_code == 409


async def test_refunds_never_exceed_what_was_charged(client, app, admin, member, charged_job):
    url = f"/api/admin/jobs/{charged_job['id']}/refund"
    assert (await client.post(url, json={"credits": 10, "note": "a"}, headers=admin.jwt)).status_code == 200
    written = (await ledger_rows(app, charged_job["id"]), await audit_actions(app, charged_job["id"]))
    too_much = await client.post(url, json={"credits": 6, "note": "b"}, headers=admin.jwt)
    assert (too_much.status_code, too_much.json()["errors"][0]["field"]) == (400, "credits")
    assert (await ledger_rows(app, charged_job["id"]), await audit_actions(app, charged_job["id"])) == written
    assert await balance_of(app.state.db, member) == 1000 - 5  # charged 15, 10 refunded so far
    assert (await client.get(f"/api/admin/jobs/{charged_job['id']}", headers=admin.jwt)).json()[
        "credits_refunded"
    ] == 10
    assert (await client.post(url, json={"credits": 5, "note": "c"}, headers=admin.jwt)).status_code == 200
    assert (await client.post(url, json={"credits": 1, "note": "d"}, headers=admin.jwt)).status_code == 400
    assert await balance_of(app.state.db, member) == 1000  # everything charged came back, nothing more

    from ledger.repository import LedgerRepository

    async with app.state.db.connection() as conn:
        assert await LedgerRepository().inconsistent_accounts(conn) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"credits": 0, "note": "n"}, "credits"),
        ({"credits": -3, "note": "n"}, "credits"),
        ({"credits": "5", "note": "n"}, "credits"),
        ({"credits": 1.5, "note": "n"}, "credits"),
        ({"credits": 1, "note": "  "}, "note"),
        ({"credits": 1}, "note"),
    ],
)
async def test_bad_refunds_are_400_naming_the_field(client, app, admin, member, charged_job, body, field):
    response = await client.post(f"/api/admin/jobs/{charged_job['id']}/refund", json=body, headers=admin.jwt)
    assert response.status_code == 400, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert await ledger_rows(app, charged_job["id"]) == [{"kind": "reserve", "delta": -15}]
    assert await audit_actions(app, charged_job["id"]) == []
    assert await balance_of(app.state.db, member) == 1000 - 15


async def test_refunding_a_job_that_charged_nothing_or_does_not_exist(client, app, admin, member):
    queued = await submit_job(client, member)
    nothing = await client.post(
        f"/api/admin/jobs/{queued['id']}/refund", json={"credits": 1, "note": "n"}, headers=admin.jwt
    )
    assert nothing.status_code == 400
    assert await ledger_rows(app, queued["id"]) == [{"kind": "reserve", "delta": -15}]
    assert await audit_actions(app, queued["id"]) == []
    missing = await client.post(
        f"/api/admin/jobs/{uuid.uuid4()}/refund", json={"credits": 1, "note": "n"}, headers=admin.jwt
    )
    assert missing.status_code == 404
