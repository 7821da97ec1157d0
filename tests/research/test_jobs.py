"""Research jobs through the front door: create, run, read, cancel, settle — with real workers."""

from __future__ import annotations

import asyncio
import uuid

import psycopg

from ledger.check import check_ledger
from tests.accounts import balance_of, open_account


async def _jobs_in_db(database_url: str) -> int:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cur = await conn.execute("SELECT count(*) FROM research_jobs")
        return (await cur.fetchone())[0]


async def test_a_sync_lite_job_returns_a_cited_brief_and_charges_the_price(api, funded, research_app):
    response = await api.post(
        "/v1/research", headers=funded.key, json={"question": "What is LangGraph used for?", "mode": "lite"}
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["status"] == "succeeded"
    assert result["mode"] == "lite" and result["stop_reason"] in ("complete", "budget")
    assert result["brief"] and result["sources"]
    assert "[1]" in result["brief"]
    assert set(result["typed"]) >= {"answer", "key_findings", "open_questions"}
    assert result["credits_charged"] == 15
    assert response.headers["X-RateLimit-Limit"] == "60"
    assert await balance_of(research_app.state.db, funded) == 1000 - 15
    assert (await check_ledger(research_app.state.db)).clean


async def test_an_async_job_is_accepted_then_polled_to_completion(api, funded, research_app):
    response = await api.post(
        "/v1/research",
        headers=funded.key,
        json={"question": "How do checkpoints work?", "mode": "standard", "async": True},
    )
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["status"] == "queued"
    assert accepted["status_url"].endswith(f"/v1/research/{accepted['id']}")
    assert accepted["events_url"].endswith(f"/v1/research/{accepted['id']}/events")
    done = await api.get(f"/v1/research/{accepted['id']}", params={"wait": 60}, headers=funded.key)
    assert done.status_code == 200
    assert done.json()["status"] == "succeeded"
    assert done.json()["credits_charged"] == 60
    assert await balance_of(research_app.state.db, funded) == 1000 - 60


async def test_bad_requests_are_refused_before_any_charge(idle_api, idle_funded, settings, app):
    cases = [
        ({"question": "q", "mode": "max"}, "max_credits"),
        ({"question": "q", "mode": "turbo"}, "mode"),
        ({"question": ""}, "question"),
        (
            {"question": "q", "response_schema": {"type": "object", "properties": {"a": {"type": 7}}}},
            "response_schema",
        ),
        ({"question": "q", "webhook_url": "ftp://example.com/hook"}, "webhook_url"),
        ({"question": "q", "max_wallclock_secs": 100000}, "max_wallclock_secs"),
        ({"question": "q", "colour": "blue"}, "colour"),
    ]
    for body, field in cases:
        response = await idle_api.post("/v1/research", json=body, headers=idle_funded.key)
        assert response.status_code == 400, (body, response.text)
        assert field in response.json()["detail"], (body, response.json())
    assert await balance_of(app.state.db, idle_funded) == 1000
    assert await _jobs_in_db(settings.database_url) == 0


async def test_a_private_webhook_url_is_refused_by_default(idle_api, idle_funded, settings, app):
    app.state.settings = settings.model_copy(update={"allow_private_urls": False})
    response = await idle_api.post(
        "/v1/research",
        headers=idle_funded.key,
        json={"question": "q", "webhook_url": "http://127.0.0.1:9/hook"},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "webhook_url"


async def test_insufficient_credits_is_402(idle_api, app):
    poor = await open_account(idle_api, app.state.db, credits=10)
    response = await idle_api.post(
        "/v1/research", json={"question": "q", "mode": "lite", "async": True}, headers=poor.key
    )
    assert response.status_code == 402
    assert response.json()["code"] == "insufficient_credits"
    assert await balance_of(app.state.db, poor) == 10


async def test_an_idempotency_key_returns_the_original_job(idle_api, idle_funded, app):
    headers = {**idle_funded.key, "Idempotency-Key": "order-42"}
    first, second = await asyncio.gather(
        *(
            idle_api.post(
                "/v1/research", json={"question": "q", "mode": "lite", "async": True}, headers=headers
            )
            for _ in range(2)
        )
    )
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    assert await balance_of(app.state.db, idle_funded) == 1000 - 15


async def test_another_users_job_is_not_found(idle_api, idle_funded, app):
    job = (
        await idle_api.post("/v1/research", json={"question": "q", "async": True}, headers=idle_funded.key)
    ).json()
    stranger = await open_account(idle_api, app.state.db, credits=0)
    for method in ("GET", "DELETE"):
        response = await idle_api.request(method, f"/v1/research/{job['id']}", headers=stranger.key)
        assert response.status_code == 404
    assert (await idle_api.get(f"/v1/research/{uuid.uuid4()}", headers=idle_funded.key)).status_code == 404
    listed = (await idle_api.get("/v1/research", headers=stranger.key)).json()
    assert listed == []


async def test_cancelling_a_queued_job_releases_everything_and_is_idempotent(idle_api, idle_funded, app):
    job = (
        await idle_api.post("/v1/research", json={"question": "q", "mode": "pro"}, headers=idle_funded.key)
    ).json()
    assert await balance_of(app.state.db, idle_funded) == 1000 - 200
    first = await idle_api.delete(f"/v1/research/{job['id']}", headers=idle_funded.key)
    second = await idle_api.delete(f"/v1/research/{job['id']}", headers=idle_funded.key)
    assert first.status_code == second.status_code == 200
    assert first.json()["status"] == second.json()["status"] == "canceled"
    assert first.json()["stop_reason"] == "canceled"
    assert first.json()["credits_charged"] == 0
    assert await balance_of(app.state.db, idle_funded) == 1000
    assert (await check_ledger(app.state.db)).clean


async def test_listing_filters_by_status_newest_first(idle_api, idle_funded):
    ids = []
    for _ in range(3):
        ids.append(
            (
                await idle_api.post(
                    "/v1/research",
                    json={"question": "q", "mode": "lite", "async": True},
                    headers=idle_funded.key,
                )
            ).json()["id"]
        )
    await idle_api.delete(f"/v1/research/{ids[0]}", headers=idle_funded.key)
    listed = (await idle_api.get("/v1/research", headers=idle_funded.key)).json()
    assert [row["id"] for row in listed] == ids[::-1]
    queued = (
        await idle_api.get("/v1/research", params={"status": "queued", "limit": 1}, headers=idle_funded.key)
    ).json()
    assert [row["id"] for row in queued] == [ids[2]]
    assert (
        await idle_api.get("/v1/research", params={"limit": 0}, headers=idle_funded.key)
    ).status_code == 400


async def test_a_hundred_concurrent_creates_against_a_balance_for_ten(idle_api, app):
    app.state.settings = app.state.settings.model_copy(update={"research_creates_per_minute": 1000})
    account = await open_account(idle_api, app.state.db, credits=150)
    responses = await asyncio.gather(
        *(
            idle_api.post(
                "/v1/research", json={"question": f"q{i}", "mode": "lite", "async": True}, headers=account.key
            )
            for i in range(100)
        )
    )
    codes = [r.status_code for r in responses]
    assert codes.count(202) == 10
    assert codes.count(402) == 90
    assert await balance_of(app.state.db, account) == 0
    assert (await check_ledger(app.state.db)).clean


async def test_the_playground_runs_jobs_with_a_session_token(api, funded):
    response = await api.post(
        "/api/playground/research",
        headers=funded.jwt,
        json={"question": "What is a budget gate?", "mode": "lite"},
    )
    assert response.status_code == 200, response.text
    job_id = response.json()["id"]
    again = await api.get(f"/api/playground/research/{job_id}", headers=funded.jwt)
    assert again.json()["status"] == "succeeded"
    assert (await api.get(f"/api/playground/research/{job_id}", headers=funded.key)).status_code == 401


async def test_include_sources_false_omits_summaries(api, funded):
    result = (
        await api.post(
            "/v1/research",
            headers=funded.key,
            json={"question": "What is LangGraph?", "mode": "lite", "include_sources": False},
        )
    ).json()
    assert result["sources"] and all(s["summary"] is None for s in result["sources"])


async def test_creates_are_rate_limited_per_key(idle_api, idle_funded, app):
    app.state.settings = app.state.settings.model_copy(update={"research_creates_per_minute": 3})
    codes = []
    for _ in range(4):
        response = await idle_api.post(
            "/v1/research", json={"question": "q", "mode": "lite", "async": True}, headers=idle_funded.key
        )
        codes.append(response.status_code)
    assert codes == [202, 202, 202, 429]
    assert int(response.headers["Retry-After"]) >= 1
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert response.json()["code"] == "rate_limited"


async def test_a_create_over_the_rate_limit_leaves_no_job_and_no_event_stream(idle_api, idle_funded, app):
    """The limit is counted in the round trip that announces `job.queued`: a refused create
    takes its event back and never writes the job."""
    app.state.settings = app.state.settings.model_copy(update={"research_creates_per_minute": 1})
    body = {"question": "q", "mode": "lite", "async": True}
    assert (await idle_api.post("/v1/research", json=body, headers=idle_funded.key)).status_code == 202
    streams_before = set(await app.state.redis.keys("job:*:events"))
    refused = await idle_api.post("/v1/research", json=body, headers=idle_funded.key)
    assert refused.status_code == 429
    assert set(await app.state.redis.keys("job:*:events")) == streams_before
    async with app.state.db.connection() as conn:
        jobs = await (await conn.execute("SELECT count(*) AS n FROM research_jobs")).fetchone()
    assert jobs["n"] == 1
