"""Worker lifecycle: graceful drain on shutdown hands the job back; old checkpoints are pruned."""

from __future__ import annotations

import asyncio
import threading

import psycopg

from api.app import create_app
from api.research.runner import GraphRunner
from api.runtime import background_services_for
from tests.accounts import balance_of, open_account
from tests.fakes.tavily_server import FakeTavily
from tests.research.test_live import DOCUMENTS


async def _job_row(database_url: str, job_id: str) -> dict:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cur = await conn.execute(
            "SELECT status, lease_owner, attempts FROM research_jobs WHERE id = %s", (job_id,)
        )
        status, owner, attempts = await cur.fetchone()
    return {"status": status, "lease_owner": owner, "attempts": attempts}


async def test_shutdown_drains_a_running_job_back_to_the_queue_and_it_resumes(idle_api, app, settings):
    with FakeTavily(DOCUMENTS, latency=0.5) as tavily:
        searching = threading.Event()
        tavily.on_request = lambda _query: searching.set()
        fake_settings = settings.model_copy(
            update={"tavily_api_key": tavily.api_key, "tavily_api_base": tavily.url, "worker_lease_secs": 3}
        )
        account = await open_account(idle_api, app.state.db, credits=1000)
        job = (
            await idle_api.post(
                "/v1/research",
                headers=account.key,
                json={"question": "How are checkpoints stored?", "mode": "standard", "async": True},
            )
        ).json()

        first = create_app(fake_settings, background_services=background_services_for(fake_settings, 1))
        async with first.router.lifespan_context(first):
            for _ in range(400):
                if searching.is_set():
                    break
                await asyncio.sleep(0.05)
            assert searching.is_set()
        drained = await _job_row(settings.database_url, job["id"])
        assert drained == {"status": "running", "lease_owner": None, "attempts": 1}

        second = create_app(fake_settings, background_services=background_services_for(fake_settings, 1))
        async with second.router.lifespan_context(second):
            done = (
                await idle_api.get(f"/v1/research/{job['id']}", params={"wait": 60}, headers=account.key)
            ).json()
    assert done["status"] == "succeeded" and done["credits_charged"] == 60
    assert (await _job_row(settings.database_url, job["id"]))["attempts"] == 2
    assert await balance_of(app.state.db, account) == 1000 - 60


async def test_checkpoints_of_long_finished_jobs_are_pruned(api, funded, research_app, settings):
    result = (
        await api.post(
            "/v1/research", headers=funded.key, json={"question": "What is a checkpoint?", "mode": "lite"}
        )
    ).json()
    async with await psycopg.AsyncConnection.connect(settings.database_url, autocommit=True) as conn:

        async def checkpoints() -> int:
            cur = await conn.execute("SELECT count(*) FROM checkpoints WHERE thread_id = %s", (result["id"],))
            return (await cur.fetchone())[0]

        assert await checkpoints() > 0
        runner = GraphRunner(research_app.state.db, settings)
        from datetime import timedelta

        assert await runner.prune_checkpoints(timedelta(days=7)) == 0  # too recent
        await conn.execute(
            "UPDATE research_jobs SET completed_at = now() - interval '8 days' WHERE id = %s", (result["id"],)
        )
        assert await runner.prune_checkpoints(timedelta(days=7)) == 1
        assert await checkpoints() == 0
        assert await runner.prune_checkpoints(timedelta(days=7)) == 0  # once


async def test_cancelling_a_running_job_bills_what_it_used_and_keeps_partial_results(idle_api, app, settings):
    with FakeTavily(DOCUMENTS, latency=1.0) as tavily:
        searching = threading.Event()
        tavily.on_request = lambda _query: searching.set()
        fake_settings = settings.model_copy(
            update={"tavily_api_key": tavily.api_key, "tavily_api_base": tavily.url}
        )
        account = await open_account(idle_api, app.state.db, credits=1000)
        worker_app = create_app(fake_settings, background_services=background_services_for(fake_settings, 1))
        async with worker_app.router.lifespan_context(worker_app):
            job = (
                await idle_api.post(
                    "/v1/research",
                    headers=account.key,
                    json={"question": "How are checkpoints stored?", "mode": "pro", "async": True},
                )
            ).json()
            for _ in range(400):
                if searching.is_set():
                    break
                await asyncio.sleep(0.05)
            canceled = (await idle_api.delete(f"/v1/research/{job['id']}", headers=account.key)).json()
    assert canceled["status"] == "canceled" and canceled["stop_reason"] == "canceled"
    assert 0 <= canceled["credits_charged"] <= 200
    assert canceled["typed"] is not None and canceled["completed_at"]
    assert await balance_of(app.state.db, account) == 1000 - canceled["credits_charged"]
