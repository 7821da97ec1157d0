"""Plan approval: a job stops after planning until its client approves (or edits) the queries;
the approved queries are the ones searched; unanswered, it is canceled and released."""

from __future__ import annotations

import httpx

from api.app import create_app
from api.research.events import JobEvents
from api.runtime import background_services_for
from ledger.check import check_ledger
from tests.accounts import Account, balance_of, open_account
from tests.observability.test_metrics import _scrape, _value, open_admin
from tests.research.pages import QUESTION
from tests.research.test_failure_paths import ledger_rows
from tests.waiting import until

EDITED = ["checkpoints written after every step", "leases renewed with heartbeats"]


async def _awaiting(api: httpx.AsyncClient, account: Account, *, base: str = "/v1/research") -> dict:
    """Create a lite job with plan approval (answered 202 though lite is sync) and wait for its plan."""
    headers = account.key if base == "/v1/research" else account.jwt
    created = await api.post(
        base, headers=headers, json={"question": QUESTION, "mode": "lite", "plan_approval": True}
    )
    assert created.status_code == 202, created.text

    async def parked():
        job = (await api.get(f"{base}/{created.json()['id']}", headers=headers)).json()
        return job if job["status"] == "awaiting_approval" else None

    return await until(parked, what="the plan to wait for approval")


async def test_edited_queries_are_the_ones_searched(web_api, web_app, account, tavily, settings):
    job = await _awaiting(web_api, account)
    plan = job["plan"]
    assert plan["queries"] and plan["sub_questions"] and plan["expires_at"] and not plan["approved"]
    assert tavily.calls == []  # nothing searched before the approval
    events = JobEvents(web_app.state.redis)
    ready = [e for e in await events.since(job["id"], "0") if e.type == "plan.ready"]
    assert [e.data["plan"]["queries"] for e in ready] == [plan["queries"]]

    approved = await web_api.post(
        f"/v1/research/{job['id']}/plan", headers=account.key, json={"queries": EDITED}
    )
    assert approved.status_code == 202, approved.text
    assert approved.json()["status"] == "queued" and approved.json()["plan"]["queries"] == EDITED
    done = (await web_api.get(f"/v1/research/{job['id']}", params={"wait": 60}, headers=account.key)).json()

    assert done["status"] == "succeeded" and done["credits_charged"] == 15, done
    assert sorted(tavily.calls) == sorted(EDITED)  # lite runs one wave: exactly the approved queries
    assert not (set(plan["queries"]) - set(EDITED)) & set(tavily.calls)
    waves = [e.data["queries"] for e in await events.since(job["id"], "0") if e.type == "wave.started"]
    assert waves == [EDITED]
    assert await ledger_rows(settings.database_url, job["id"]) == [("reserve", -15)]


async def test_plan_answers_are_checked_before_anything_runs(web_api, web_app, account):
    job = await _awaiting(web_api, account)
    url = f"/v1/research/{job['id']}/plan"
    for body in (
        {"queries": []},
        {"queries": ["a", "b", "c", "d"]},
        {"queries": ["   "]},
        {"queries": "x"},
        {},
    ):
        refused = await web_api.post(url, headers=account.key, json=body)
        assert refused.status_code == 400 and "queries" in refused.text, (body, refused.text)
    stranger = await open_account(web_api, web_app.state.db, credits=1000)
    assert (await web_api.post(url, headers=stranger.key, json={"queries": EDITED})).status_code == 404
    assert (await web_api.get(f"/v1/research/{job['id']}", headers=account.key)).json()[
        "status"
    ] == "awaiting_approval"

    assert (await web_api.post(url, headers=account.key, json={"queries": EDITED})).status_code == 202
    again = await web_api.post(url, headers=account.key, json={"queries": EDITED})
    assert again.status_code == 409 and again.json()["code"] == "not_awaiting_approval"


async def test_a_job_awaiting_approval_is_live_not_finished(web_api, web_app, account):
    job = await _awaiting(web_api, account)
    follow_up = await web_api.post(
        "/v1/research",
        headers=account.key,
        json={"question": "And what do they cost?", "mode": "lite", "previous_job_id": job["id"]},
    )
    assert follow_up.status_code == 409 and follow_up.json()["code"] == "previous_job_not_finished"

    operator = await open_admin(web_api, web_app.state.db)
    samples = await _scrape(web_api, operator)
    assert _value(samples, "infrence_research_jobs", status="awaiting_approval") == 1
    assert _value(samples, "infrence_research_queue_depth") == 0  # no worker waits for it
    stats = (await web_api.get("/api/admin/stats", headers=operator)).json()
    assert stats["in_flight_jobs"] == 1


async def test_a_job_awaiting_approval_is_canceled_by_delete_and_released(
    web_api, web_app, account, settings
):
    job = await _awaiting(web_api, account)
    canceled = await web_api.delete(f"/v1/research/{job['id']}", headers=account.key)
    assert canceled.status_code == 200 and canceled.json()["status"] == "canceled"
    assert await ledger_rows(settings.database_url, job["id"]) == [("reserve", -15), ("release", 15)]
    assert await balance_of(web_app.state.db, account) == 1000


async def test_the_dashboard_reviews_the_plan_through_its_own_routes(web_api, account):
    job = await _awaiting(web_api, account, base="/api/playground/research")
    approved = await web_api.post(
        f"/api/playground/research/{job['id']}/plan",
        headers=account.jwt,
        json={"queries": job["plan"]["queries"]},
    )
    assert approved.status_code == 202, approved.text
    done = (
        await web_api.get(f"/api/playground/research/{job['id']}", params={"wait": 60}, headers=account.jwt)
    ).json()
    assert done["status"] == "succeeded" and done["plan"]["approved"]


async def test_an_unapproved_plan_expires_canceled_with_its_reservation_released(
    idle_api, app, web_settings, settings
):
    account = await open_account(idle_api, app.state.db, credits=1000)
    hasty = web_settings.model_copy(update={"plan_approval_ttl_secs": 2})
    workers = create_app(hasty, background_services=background_services_for(hasty, 1))
    async with workers.router.lifespan_context(workers):
        job = await _awaiting(idle_api, account)

        async def expired():
            now = (await idle_api.get(f"/v1/research/{job['id']}", headers=account.key)).json()
            return now if now["status"] != "awaiting_approval" else None

        ended = await until(expired, what="the unapproved plan to expire")
    assert (
        ended["status"] == "canceled" and ended["stop_reason"] == "canceled" and "approved" in ended["error"]
    )
    assert ended["credits_charged"] == 0
    assert await ledger_rows(settings.database_url, job["id"]) == [("reserve", -15), ("release", 15)]
    assert await balance_of(app.state.db, account) == 1000
    assert (await check_ledger(app.state.db)).clean
