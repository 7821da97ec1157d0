"""Worker lifecycle: graceful drain on shutdown hands the job back; old checkpoints are pruned."""

from __future__ import annotations

import math
import threading

import psycopg

from api.app import create_app
from api.research.events import JobEvents
from api.research.runner import GraphRunner
from api.runtime import background_services_for
from graph.pricing import DEFAULT_PRICES
from tests.accounts import balance_of, open_account
from tests.fakes.tavily_server import FakeTavily
from tests.research.test_failure_paths import ledger_rows
from tests.research.test_live import DOCUMENTS
from tests.waiting import until


async def job_row(database_url: str, job_id: str) -> dict:
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
            await until(searching.is_set, what="the job to start searching")
        drained = await job_row(settings.database_url, job["id"])
        assert drained == {"status": "running", "lease_owner": None, "attempts": 1}

        second = create_app(fake_settings, background_services=background_services_for(fake_settings, 1))
        async with second.router.lifespan_context(second):
            done = (
                await idle_api.get(f"/v1/research/{job['id']}", params={"wait": 60}, headers=account.key)
            ).json()
    assert done["status"] == "succeeded" and done["credits_charged"] == 60
    assert (await job_row(settings.database_url, job["id"]))["attempts"] == 2
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
            events = JobEvents(app.state.redis)

            async def second_wave_started() -> bool:
                return any(
                    e.type == "wave.started" and e.data.get("wave") == 2
                    for e in await events.since(job["id"], "0")
                )

            # Cancel once the first wave is checkpointed, while the second one's searches are out.
            await until(second_wave_started, what="the second wave")
            before = (await idle_api.get(f"/v1/research/{job['id']}", headers=account.key)).json()
            assert before["status"] == "running"
            assert (
                await idle_api.delete(f"/v1/research/{job['id']}", headers=account.key)
            ).status_code == 200

            async def settled():
                now = (await idle_api.get(f"/v1/research/{job['id']}", headers=account.key)).json()
                return now if now["status"] != "running" else None

            canceled = await until(settled, what="the cancel to settle")
    assert canceled["status"] == "canceled" and canceled["stop_reason"] == "canceled"
    assert canceled["sources"] and canceled["brief"] and canceled["completed_at"]
    # Metered: the searches and pages it used (the offline reasoner costs nothing), priced
    # at 0.45 US$ of provider spend per credit, rounded up — and well under the pro price.
    used = canceled["usage"]
    cost_micros = used["searches"] * DEFAULT_PRICES.search("tavily") + used["pages"] * DEFAULT_PRICES.page
    assert used["searches"] >= 1 and round(canceled["cost_usd"] * 1_000_000) == cost_micros
    charge = math.ceil(cost_micros / 4_500)
    assert 0 < charge < 200 and canceled["credits_charged"] == charge
    assert await ledger_rows(settings.database_url, job["id"]) == [
        ("reserve", -200),
        ("release", 200 - charge),
    ]
    assert await balance_of(app.state.db, account) == 1000 - charge
