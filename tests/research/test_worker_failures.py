"""Worker failure branches forced in-process: a job re-claimed after its worker died between
a failed cast and its settlement, and a settlement that raises."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

from langgraph.runtime import RunControl
from psycopg import sql

from api.app import create_app
from api.research.repository import JobRepository
from api.research.runner import GraphRunner
from api.runtime import background_services_for
from graph.modes import plan_for
from graph.providers.reasoning import TypedOutputError
from ledger.check import check_ledger
from tests.accounts import balance_of
from tests.fakes.tavily_server import FakeTavily
from tests.research.conftest import submit_async_job
from tests.research.test_failure_paths import ledger_rows

UNFILLABLE = {
    "type": "object",
    "properties": {"code": {"type": "string", "pattern": "^zz[0-9]{9}qq$"}},
    "required": ["code"],
}


async def _no_events(_type: str, _data: dict) -> None:
    return None


async def claim(db, job_id: str, worker: str = "dead-worker"):
    async with db.transaction() as tx:
        job = await JobRepository().claim_next(tx, worker, timedelta(seconds=30))
    assert job is not None and str(job.id) == job_id
    return job


async def lapse_lease(db, job_id: str) -> None:
    async with db.connection() as conn:
        await conn.execute(
            "UPDATE research_jobs SET lease_expires_at = now() - interval '1 second' WHERE id = %s",
            (job_id,),
        )


async def test_a_job_reclaimed_after_its_cast_failed_fails_on_the_clients_schema(
    idle_api, idle_funded, app, settings
):
    """The first worker ran the graph to the failing cast and died before settling: the worker
    that re-claims it fails it on the client's schema, charged as a twin job that ran once."""
    db = app.state.db
    body = {"question": "What is a checkpoint?", "mode": "lite", "async": True, "response_schema": UNFILLABLE}
    crashed_id = (await idle_api.post("/v1/research", headers=idle_funded.key, json=body)).json()["id"]
    crashed = await claim(db, crashed_id)
    runner = GraphRunner(db, settings)
    await runner.setup()
    try:
        await runner.run(crashed, control=RunControl(), on_event=_no_events)
    except TypedOutputError:
        pass
    else:
        raise AssertionError("the cast was expected to fail")
    await lapse_lease(db, crashed_id)  # the worker is gone; its lease lapses
    twin_id = (await idle_api.post("/v1/research", headers=idle_funded.key, json=body)).json()["id"]

    worker = create_app(settings, background_services=background_services_for(settings, 1))
    async with worker.router.lifespan_context(worker):
        done, twin = [
            (
                await idle_api.get(f"/v1/research/{job_id}", params={"wait": 60}, headers=idle_funded.key)
            ).json()
            for job_id in (crashed_id, twin_id)
        ]

    assert (twin["status"], done["status"]) == ("failed", "failed"), (twin, done)
    assert "pattern at /code" in done["error"] and done["error"] == twin["error"]
    charged = plan_for("lite").metered_credits(done["cost_usd"])
    assert done["credits_charged"] == twin["credits_charged"] == charged > 0  # its spend, as metered
    assert await ledger_rows(settings.database_url, crashed_id) == [
        ("reserve", -15),
        ("release", 15 - charged),
    ]
    assert await balance_of(db, idle_funded) == 1000 - 2 * charged
    assert (await check_ledger(db)).clean


# A page whose text, title and snippet hold a NUL byte and other control characters:
# PostgreSQL refuses NUL in the job's result (jsonb), so they must not get that far.
QUESTION = "How do checkpoints let a crashed job resume?"
NUL_PAGE = {
    "url": "https://docs.example.org/nul",
    "title": "Checkpoints\x00",
    "text": "A checkpoint stores the state of a graph after each step.\x07 Checkpoints let a crashed\x00"
    " job resume from its last step.",
}


async def run_to_its_end(idle_api, account, settings, tavily: FakeTavily, job_id: str) -> dict:
    """The job as it ends, run by a worker started for it that searches `tavily`."""
    online = settings.model_copy(update={"tavily_api_key": tavily.api_key, "tavily_api_base": tavily.url})
    worker = create_app(online, background_services=background_services_for(online, 1))
    async with worker.router.lifespan_context(worker):
        return (await idle_api.get(f"/v1/research/{job_id}", params={"wait": 60}, headers=account.key)).json()


async def test_a_page_holding_nul_bytes_is_cited_without_them(idle_api, idle_funded, app, settings):
    """Control characters in a search result are dropped on the way in: the job succeeds and
    its citation is an exact slice of the page's text without them."""
    with FakeTavily([NUL_PAGE]) as tavily:
        job_id = await submit_async_job(idle_api, idle_funded, QUESTION)
        done = await run_to_its_end(idle_api, idle_funded, settings, tavily, job_id)

    assert done["status"] == "succeeded", done
    [source] = done["sources"]
    assert source["title"] == "Checkpoints"
    cited = {citation["quote"] for entry in done["basis"] for citation in entry["citations"]}
    assert cited == {"Checkpoints let a crashed job resume from its last step."}, done["basis"]
    assert "\\u0000" not in json.dumps(done)
    assert await ledger_rows(settings.database_url, done["id"]) == [("reserve", -15)]
    assert await balance_of(app.state.db, idle_funded) == 1000 - 15


async def test_a_result_that_cannot_be_recorded_fails_the_job_at_once_and_releases_it(
    idle_api, idle_funded, app, settings
):
    """Settlement raising an error that is not an outage: the job ends failed on its first
    attempt (not `running` until its attempts run out), nothing charged, the reservation
    released in one row. The trigger is PostgreSQL refusing the success itself: a check
    constraint, planted for this one job, that no succeeded row may satisfy."""
    db = app.state.db
    constraint = f"unrecordable_{uuid.uuid4().hex[:8]}"
    with FakeTavily([NUL_PAGE]) as tavily:
        job_id = await submit_async_job(idle_api, idle_funded, QUESTION)
        async with db.connection() as conn:
            await conn.execute(
                sql.SQL(
                    "ALTER TABLE research_jobs ADD CONSTRAINT {} CHECK (id <> {} OR status <> 'succeeded') NOT VALID"
                ).format(sql.Identifier(constraint), sql.Literal(job_id))
            )
        try:
            done = await run_to_its_end(idle_api, idle_funded, settings, tavily, job_id)
        finally:
            async with db.connection() as conn:
                await conn.execute(
                    sql.SQL("ALTER TABLE research_jobs DROP CONSTRAINT {}").format(sql.Identifier(constraint))
                )

    assert done["status"] == "failed", done
    assert done["error"] == "the job's result could not be recorded"
    assert done["credits_charged"] == 0
    async with db.connection() as conn:
        cur = await conn.execute("SELECT attempts FROM research_jobs WHERE id = %s", (job_id,))
        assert (await cur.fetchone())["attempts"] == 1
    assert await ledger_rows(settings.database_url, job_id) == [("reserve", -15), ("release", 15)]
    assert await balance_of(db, idle_funded) == 1000
    assert (await check_ledger(db)).clean
