"""The failure and money paths of research jobs, forced rather than hoped for: a job whose
workers keep dying, a metered `max` job against fake model and search servers, and the two
races the service claims to win (a shared Idempotency-Key, a job settled twice)."""

from __future__ import annotations

import asyncio
import json
import math
import signal
import subprocess
import sys
import threading
import uuid
from datetime import timedelta

import psycopg
import pytest

from api.app import create_app
from api.research.repository import IDEMPOTENCY_WINDOW, JobRepository
from api.research.schemas import ResearchRequest
from api.research.service import JobOutcome, JobSettlement
from api.runtime import background_services_for
from graph.modes import CREDIT_USD, MAX_MODE_COST_SHARE, plan_for
from graph.pricing import DEFAULT_PRICES
from ledger.check import check_ledger
from tests.accounts import balance_of, open_account
from tests.conftest import REPO, server_env, worker_process
from tests.fakes.openai_server import FakeOpenAI, schema_name
from tests.fakes.tavily_server import FakeTavily
from tests.research.conftest import submit_async_job
from tests.research.test_events_and_webhooks import _events, webhook_receiver  # noqa: F401 (fixture)
from tests.research.test_live import DOCUMENTS
from tests.waiting import until

# Runs a poison job may start (INFRENCE_JOB_MAX_ATTEMPTS): each costs a worker kill and restart.
MAX_ATTEMPTS = 2
MICROS_PER_CREDIT_OF_SPEND = round(MAX_MODE_COST_SHARE * CREDIT_USD * 1_000_000)  # 4,500 micro-USD


async def ledger_rows(database_url: str, job_id: str) -> list[tuple[str, int]]:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cur = await conn.execute(
            "SELECT kind, delta FROM credit_ledger WHERE related_id = %s ORDER BY seq", (job_id,)
        )
        return [(kind, delta) for kind, delta in await cur.fetchall()]


async def job_status(database_url: str, job_id: str) -> str:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cur = await conn.execute("SELECT status FROM research_jobs WHERE id = %s", (job_id,))
        return (await cur.fetchone())[0]


async def lease_owner_pid(database_url: str, job_id: str) -> int | None:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cur = await conn.execute("SELECT lease_owner FROM research_jobs WHERE id = %s", (job_id,))
        owner = (await cur.fetchone())[0]
    return int(owner.split(":")[1]) if owner else None


def ledger_check_cli(settings) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", "ledger", "check"],
        cwd=REPO,
        env=server_env(settings),
        capture_output=True,
        text=True,
        timeout=120,
    )


def start_worker(settings, tavily: FakeTavily, log_path) -> subprocess.Popen:
    env = server_env(
        settings,
        TAVILY_API_KEY=tavily.api_key,
        TAVILY_API_BASE=tavily.url,
        INFRENCE_WORKER_LEASE_SECS="2",
        INFRENCE_JOB_MAX_ATTEMPTS=str(MAX_ATTEMPTS),
    )
    return worker_process(env, log_path)


# --- a job that keeps killing its worker ------------------------------------------------------


async def test_a_job_whose_workers_keep_dying_fails_charged_nothing(
    idle_api,
    app,
    settings,
    tmp_path,
    webhook_receiver,  # noqa: F811
):
    url, received = webhook_receiver
    with FakeTavily(DOCUMENTS, latency=0.3) as tavily:
        searching = threading.Event()
        tavily.on_request = lambda _query: searching.set()
        account = await open_account(idle_api, app.state.db, credits=1000)
        accepted = (
            await idle_api.post(
                "/v1/research",
                headers=account.key,
                json={
                    "question": "How do workers resume crashed jobs?",
                    "mode": "standard",
                    "webhook_url": url,
                },
            )
        ).json()
        job_id = accepted["id"]
        # One worker runs the job while the next one waits warm, so a kill is followed quickly.
        workers = [start_worker(settings, tavily, tmp_path / f"worker-{n}.log") for n in range(2)]
        kills = 0
        try:

            async def running_mid_wave_or_ended() -> str | None:
                if await job_status(settings.database_url, job_id) not in ("queued", "running"):
                    return "ended"
                owner = await lease_owner_pid(settings.database_url, job_id)
                alive = {w.pid for w in workers if w.poll() is None}
                return "running" if searching.is_set() and owner in alive else None

            while await until(running_mid_wave_or_ended, timeout=180, what="a worker mid-wave") == "running":
                owner = await lease_owner_pid(settings.database_url, job_id)
                victim = next(w for w in workers if w.pid == owner)
                victim.send_signal(signal.SIGKILL)
                victim.wait()
                kills += 1
                assert kills <= MAX_ATTEMPTS, "the job was not given up after its attempts"
                searching.clear()
                workers.append(start_worker(settings, tavily, tmp_path / f"worker-{len(workers)}.log"))
            await until(lambda: received, what="the failure webhook")
        finally:
            for worker in workers:
                if worker.poll() is None:
                    worker.send_signal(signal.SIGTERM)
                    worker.wait(timeout=60)

    assert kills == MAX_ATTEMPTS  # the job took down a worker on each attempt it was allowed
    job = (await idle_api.get(f"/v1/research/{job_id}", headers=account.key)).json()
    assert job["status"] == "failed" and job["credits_charged"] == 0
    assert job["error"] == f"gave up after {MAX_ATTEMPTS} interrupted attempts"
    assert await ledger_rows(settings.database_url, job_id) == [("reserve", -60), ("release", 60)]
    assert await balance_of(app.state.db, account) == 1000

    events = await _events(idle_api, accepted["events_url"], account.key)
    assert events[-1]["type"] == "job.failed"
    assert events[-1]["data"]["status"] == "failed" and events[-1]["data"]["credits_charged"] == 0

    assert len(received) == 1
    delivered = json.loads(received[0][1])
    assert delivered["id"] == job_id and delivered["status"] == "failed"
    assert delivered["credits_charged"] == 0
    assert (await check_ledger(app.state.db)).clean


# --- max mode, metered, against fake OpenAI and Tavily servers --------------------------------


@pytest.fixture
async def online_api(settings, clean_storage):
    """An app whose workers reason with a fake OpenAI and search a fake Tavily, both over HTTP;
    yields (client, llm, tavily, db)."""
    import httpx

    with FakeOpenAI() as llm, FakeTavily(DOCUMENTS) as tavily:
        online = settings.model_copy(
            update={
                "openai_api_key": llm.api_key,
                "openai_base_url": llm.base_url,
                "tavily_api_key": tavily.api_key,
                "tavily_api_base": tavily.url,
                "model_planner": "gpt-4o-mini",
                "model_extractor": "gpt-4o-mini",
                "model_writer": "gpt-4o",
                "model_critic": "gpt-4o-mini",
                "model_caster": "gpt-4o-mini",
            }
        )
        application = create_app(online, background_services=background_services_for(online, 1))
        async with application.router.lifespan_context(application):
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=application), base_url="http://testserver", timeout=180
            ) as http:
                yield http, llm, tavily, application.state.db


async def run_max_job(http, db, max_credits: int) -> tuple[dict, object]:
    account = await open_account(http, db, credits=1000)
    accepted = (
        await http.post(
            "/v1/research",
            headers=account.key,
            json={
                "question": "How do workers resume crashed jobs from checkpoints?",
                "mode": "max",
                "max_credits": max_credits,
                "async": True,
            },
        )
    ).json()

    async def finished():
        job = (await http.get(f"/v1/research/{accepted['id']}", headers=account.key)).json()
        return job if job["status"] not in ("queued", "running") else None

    return await until(finished, timeout=300, interval=0.5, what="the max job"), account


def metered_credits(cost_micros: int) -> int:
    """The `max` charge: provider spend at 0.45 US$ per credit of price, rounded up."""
    return math.ceil(cost_micros / MICROS_PER_CREDIT_OF_SPEND)


async def test_max_mode_is_charged_its_metered_spend_and_releases_the_rest(online_api, settings):
    http, llm, tavily, db = online_api
    llm.usage = lambda request, content: (1_000, 100)
    job, account = await run_max_job(http, db, max_credits=500)
    assert job["status"] == "succeeded", job

    chat = [r.json() for r in llm.requests if r.path == "/v1/chat/completions"]
    assert chat and tavily.calls
    llm_micros = sum(DEFAULT_PRICES.llm_cost(call["model"], 1_000, 100) for call in chat)
    expected_micros = (
        llm_micros
        + len(tavily.calls) * DEFAULT_PRICES.search("tavily")
        + job["usage"]["pages"] * DEFAULT_PRICES.page
    )
    assert job["usage"]["searches"] == len(tavily.calls)
    assert round(job["cost_usd"] * 1_000_000) == expected_micros
    charge = metered_credits(expected_micros)
    assert 0 < charge < 500
    assert job["credits_charged"] == charge
    assert await ledger_rows(settings.database_url, job["id"]) == [
        ("reserve", -500),
        ("release", 500 - charge),
    ]
    assert await balance_of(db, account) == 1000 - charge
    check = ledger_check_cli(settings)
    assert check.returncode == 0, check.stdout + check.stderr


async def test_max_mode_never_charges_above_max_credits_even_when_usage_overshoots(online_api, settings):
    http, llm, _tavily, db = online_api
    # Once the evidence is in, the writer's call bills far more prompt tokens than any prompt
    # could hold: spend overshoots the meter's reservation, and only the price cap stands
    # between it and the client.
    llm.usage = lambda request, content: (3_000_000 if schema_name(request) == "brief" else 1_000, 100)
    job, account = await run_max_job(http, db, max_credits=100)
    assert job["status"] == "succeeded", job
    assert metered_credits(round(job["cost_usd"] * 1_000_000)) > 100  # it did overshoot
    assert job["stop_reason"] != "no_evidence" and job["sources"]
    assert job["credits_charged"] == 100
    assert await ledger_rows(settings.database_url, job["id"]) == [("reserve", -100)]
    assert await balance_of(db, account) == 1000 - 100
    assert (await check_ledger(db)).clean


# --- races ------------------------------------------------------------------------------------


@pytest.mark.parametrize("same_body", [True, False], ids=["same-body", "other-body"])
async def test_an_idempotency_key_race_answers_with_the_winning_job(
    idle_api, idle_funded, app, settings, same_body
):
    """A create racing an uncommitted create with the same key answers with the winner's job once
    it commits, or 409 when its body differs; either way one job, one reservation."""
    key = f"race-{uuid.uuid4().hex}"
    body = {"question": "What is a checkpoint?", "mode": "lite", "async": True}
    db = app.state.db
    async with db.transaction() as tx:
        # The winner: the create statement the service runs, its transaction not yet committed.
        winner, created = await JobRepository().create(
            tx,
            job_id=uuid.uuid4(),
            user_id=idle_funded.user_id,
            api_key_id=None,
            origin="api",
            mode="lite",
            question=body["question"],
            request=ResearchRequest.model_validate(body).stored(),  # as a create stores it
            runs_async=True,
            credits_reserved=15,
            webhook_url=None,
            idempotency_key=key,
            idempotency_window=IDEMPOTENCY_WINDOW,
        )
        assert created
        loser_body = body if same_body else {**body, "question": "What is a lease?"}
        loser = asyncio.create_task(
            idle_api.post(
                "/v1/research", headers={**idle_funded.key, "Idempotency-Key": key}, json=loser_body
            )
        )

        async def create_blocked_by_the_winner() -> bool:
            """The second create waits on the winner's uncommitted transaction (on the account
            row both reserve from, which serialises creates of one user)."""
            async with await psycopg.AsyncConnection.connect(settings.database_url) as probe:
                cur = await probe.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock'"
                )
                return (await cur.fetchone())[0] == 1

        await until(create_blocked_by_the_winner, what="the second create to wait on the winner")
        assert not loser.done()
    response = await loser
    if same_body:
        assert response.status_code == 202, response.text
        assert response.json()["id"] == str(winner.id)
    else:
        assert response.status_code == 409, response.text
        assert response.json()["code"] == "idempotency_key_reused"

    canceled = await idle_api.delete(f"/v1/research/{winner.id}", headers=idle_funded.key)
    assert canceled.json()["status"] == "canceled"
    async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
        jobs = await (
            await conn.execute("SELECT id FROM research_jobs WHERE user_id = %s", (idle_funded.user_id,))
        ).fetchall()
        kinds = await (
            await conn.execute(
                "SELECT kind, delta FROM credit_ledger WHERE user_id = %s AND kind IN ('reserve', 'release')",
                (idle_funded.user_id,),
            )
        ).fetchall()
    assert [row[0] for row in jobs] == [winner.id]  # one job
    assert sorted(kinds) == [("release", 15), ("reserve", -15)]  # one reservation, one release
    assert await balance_of(db, idle_funded) == 1000
    assert (await check_ledger(db)).clean


async def test_an_idempotency_key_past_its_window_starts_a_new_job(idle_api, idle_funded, app, settings):
    """A key reused after its 24-hour replay window, before retention has forgotten it (it does
    so hourly), is a new request: a new job and reservation, neither the old job nor an error."""
    headers = {**idle_funded.key, "Idempotency-Key": f"old-{uuid.uuid4().hex}"}
    body = {"question": "What is a checkpoint?", "mode": "lite", "async": True}
    first = (await idle_api.post("/v1/research", headers=headers, json=body)).json()
    assert (await idle_api.delete(f"/v1/research/{first['id']}", headers=idle_funded.key)).status_code == 200
    async with await psycopg.AsyncConnection.connect(settings.database_url, autocommit=True) as conn:
        await conn.execute(
            "UPDATE research_jobs SET created_at = created_at - interval '25 hours' WHERE id = %s",
            (first["id"],),
        )

    again = await idle_api.post("/v1/research", headers=headers, json=body)
    assert again.status_code == 202, again.text
    assert again.json()["id"] != first["id"]
    replayed = await idle_api.post("/v1/research", headers=headers, json=body)
    assert replayed.json()["id"] == again.json()["id"]  # within its window, the key answers the new job

    async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
        cur = await conn.execute(
            "SELECT id::text, idempotency_key IS NOT NULL FROM research_jobs WHERE user_id = %s ORDER BY created_at",
            (idle_funded.user_id,),
        )
        assert await cur.fetchall() == [(first["id"], False), (again.json()["id"], True)]
    assert await ledger_rows(settings.database_url, again.json()["id"]) == [("reserve", -15)]
    assert await balance_of(app.state.db, idle_funded) == 1000 - 15
    assert (await check_ledger(app.state.db)).clean


async def test_a_job_settled_twice_at_once_settles_exactly_once(idle_api, idle_funded, app, settings):
    """Two settlements racing with different outcomes: one wins, the other changes nothing."""
    job_id = await submit_async_job(idle_api, idle_funded, "What is a lease?", mode="standard")
    db = app.state.db
    async with db.connection() as conn:
        job = await JobRepository().get(conn, uuid.UUID(job_id))
    settlement = JobSettlement(db, app.state.redis, settings)
    succeeded = JobOutcome(status="succeeded", stop_reason="complete", result={"brief": "done"})
    failed = JobOutcome(status="failed", stop_reason=None, error="lost")

    first, second = await asyncio.gather(settlement.settle(job, succeeded), settlement.settle(job, failed))
    winners = [row for row in (first, second) if row is not None]
    assert len(winners) == 1
    winner = winners[0]
    again = await settlement.settle(job, failed if winner.status == "succeeded" else succeeded)
    assert again is None

    final = (await idle_api.get(f"/v1/research/{job_id}", headers=idle_funded.key)).json()
    assert final["status"] == winner.status
    rows = await ledger_rows(settings.database_url, job_id)
    if winner.status == "succeeded":
        assert final["credits_charged"] == 60 and rows == [("reserve", -60)]
    else:
        assert final["credits_charged"] == 0 and rows == [("reserve", -60), ("release", 60)]
    assert await balance_of(db, idle_funded) == 1000 - final["credits_charged"]
    assert (await check_ledger(db)).clean


async def test_a_worker_that_lost_its_lease_cannot_settle_the_job(idle_api, idle_funded, app, settings):
    """Between another worker reclaiming a lapsed lease and the first one's heartbeat noticing,
    the first may finish its run: its settlement changes nothing; the lease holder's counts."""
    job_id = await submit_async_job(idle_api, idle_funded, "What is a lease?", mode="standard")
    db, jobs = app.state.db, JobRepository()
    async with db.transaction() as tx:
        job = await jobs.claim_next(tx, "worker-a", timedelta(seconds=30))
    assert job is not None and str(job.id) == job_id
    async with db.connection() as conn:  # its lease lapsed and worker-b claimed the job
        await conn.execute("UPDATE research_jobs SET lease_owner = 'worker-b' WHERE id = %s", (job.id,))
    settlement = JobSettlement(db, app.state.redis, settings)
    done = JobOutcome(status="succeeded", stop_reason="complete", result={"brief": "done"})

    assert await settlement.settle(job, done, worker_id="worker-a") is None
    assert await job_status(settings.database_url, job_id) == "running"
    assert await ledger_rows(settings.database_url, job_id) == [("reserve", -60)]

    finished = await settlement.settle(job, done, worker_id="worker-b")
    assert finished is not None and finished.status == "succeeded" and finished.credits_charged == 60
    assert await ledger_rows(settings.database_url, job_id) == [("reserve", -60)]
    assert (await check_ledger(db)).clean


async def test_a_run_that_raises_fails_the_job_with_its_reason_and_settles_its_reservation(
    online_api, settings
):
    """The model never produces an object matching the client's schema: the run raises, the
    job fails with an error naming keyword and path, and (the client's input failed it) is
    charged its metered spend, never above the price; the rest is released."""
    http, llm, _tavily, db = online_api
    llm.handlers["typed_result"] = lambda payload, request: {"headline": 7}
    account = await open_account(http, db, credits=1000)
    schema = {
        "type": "object",
        "properties": {"headline": {"type": "string"}},
        "required": ["headline"],
        "additionalProperties": False,
    }
    accepted = (
        await http.post(
            "/v1/research",
            headers=account.key,
            json={
                "question": "What is a checkpoint?",
                "mode": "lite",
                "async": True,
                "response_schema": schema,
            },
        )
    ).json()

    async def finished():
        job = (await http.get(f"/v1/research/{accepted['id']}", headers=account.key)).json()
        return job if job["status"] not in ("queued", "running") else None

    job = await until(finished, timeout=180, interval=0.5, what="the job to end")
    assert job["status"] == "failed" and "response schema" in job["error"], job
    assert "Traceback" not in job["error"] and "type at /headline" in job["error"], job["error"]
    assert job["cost_usd"] > 0
    charged = min(15, plan_for("lite").metered_credits(job["cost_usd"]))
    assert job["credits_charged"] == charged > 0
    expected = [("reserve", -15)] + ([("release", 15 - charged)] if charged < 15 else [])
    assert await ledger_rows(settings.database_url, job["id"]) == expected
    assert await balance_of(db, account) == 1000 - job["credits_charged"]
    assert (await check_ledger(db)).clean
