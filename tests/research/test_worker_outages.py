"""A worker interrupted by the world rather than by its job: a shutdown whose drain times out,
its database connection lost mid-run or mid-settlement, its lease taken by another worker. In
each case the job is not failed and not charged twice: it resumes from its last checkpoint and
is settled exactly once.

Connections are lost for real (`tests/outages.py`): a worker's statement waits on a lock the
test holds, and its backend is terminated."""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import psycopg
import pytest

from api.research.repository import NOTIFY_CHANNEL
from api.research.worker import ResearchWorker
from ledger.check import check_ledger
from tests.accounts import balance_of
from tests.conftest import server_env, worker_process
from tests.fakes.tavily_server import FakeTavily
from tests.outages import cut_connections_waiting_on, holding
from tests.research.conftest import submit_async_job
from tests.research.test_failure_paths import ledger_rows
from tests.research.test_live import DOCUMENTS
from tests.research.test_worker import job_row
from tests.waiting import until

LITE_PRICE = 15


@pytest.fixture
def held_search() -> Iterator[tuple[FakeTavily, threading.Event]]:
    """A search API that holds every query until `release` is set: a job in flight stays in
    its search step. The event is set once the first query arrived."""
    with FakeTavily(DOCUMENTS) as tavily:
        searching = threading.Event()
        tavily.on_request = lambda _query: searching.set()
        tavily.delay_when(lambda _query: True, 120)
        yield tavily, searching
        tavily.release.set()


@pytest.fixture
def online(settings, held_search):
    tavily, _ = held_search
    return settings.model_copy(
        update={"tavily_api_key": tavily.api_key, "tavily_api_base": tavily.url, "worker_lease_secs": 3}
    )


@asynccontextmanager
async def running_worker(app, settings, **options) -> AsyncIterator[ResearchWorker]:
    """One research worker on the app's pool, stopped (and drained) on exit."""
    stop = asyncio.Event()
    worker = ResearchWorker(app.state.db, app.state.redis, settings, concurrency=1, **options)
    task = asyncio.create_task(worker.run(stop))
    try:
        yield worker
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)


QUESTION = "How are checkpoints stored?"


async def finished(idle_api, account, job_id: str) -> dict:
    return (await idle_api.get(f"/v1/research/{job_id}", params={"wait": 60}, headers=account.key)).json()


async def lease_expiry(database_url: str, job_id: str):
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cur = await conn.execute("SELECT lease_expires_at FROM research_jobs WHERE id = %s", (job_id,))
        return (await cur.fetchone())[0]


async def assert_settled_once(settings, app, account, done: dict, *, attempts: int) -> None:
    """Succeeded on its `attempts`-th claim, charged the lite price once, the ledger clean."""
    assert done["status"] == "succeeded", done
    assert done["credits_charged"] == LITE_PRICE
    assert (await job_row(settings.database_url, done["id"]))["attempts"] == attempts
    assert await ledger_rows(settings.database_url, done["id"]) == [("reserve", -LITE_PRICE)]
    assert await balance_of(app.state.db, account) == 1000 - LITE_PRICE
    assert (await check_ledger(app.state.db)).clean


async def test_a_job_still_in_a_step_when_the_drain_times_out_is_given_back_and_resumes(
    idle_api, idle_funded, app, settings, online, held_search
):
    tavily, searching = held_search
    job_id = await submit_async_job(idle_api, idle_funded, QUESTION)
    async with running_worker(app, online, drain_timeout_secs=0.5):
        await until(searching.is_set, what="the job to start searching")
    # The search never answered, so the step never ended: the run was canceled in it.
    assert await job_row(settings.database_url, job_id) == {
        "status": "running",
        "lease_owner": None,
        "attempts": 1,
    }

    tavily.release.set()
    async with running_worker(app, online):
        done = await finished(idle_api, idle_funded, job_id)
    await assert_settled_once(settings, app, idle_funded, done, attempts=2)


async def test_a_connection_lost_mid_run_interrupts_the_job_and_it_resumes_when_its_lease_lapses(
    idle_api, idle_funded, app, settings, online, held_search
):
    tavily, searching = held_search
    job_id = await submit_async_job(idle_api, idle_funded, QUESTION)
    async with running_worker(app, online):
        await until(searching.is_set, what="the job to start searching")
        # The run's next checkpoint write waits on this lock; then its connection is cut.
        async with holding(
            settings.database_url, "LOCK TABLE checkpoint_writes, checkpoints IN EXCLUSIVE MODE"
        ):
            tavily.release.set()
            await cut_connections_waiting_on(settings.database_url, "checkpoint")
        done = await finished(idle_api, idle_funded, job_id)
    await assert_settled_once(settings, app, idle_funded, done, attempts=2)


async def test_a_connection_lost_while_settling_leaves_the_job_to_the_next_claim_which_settles_it_once(
    idle_api, idle_funded, app, settings, online, held_search
):
    tavily, _ = held_search
    tavily.release.set()
    job_id = await submit_async_job(idle_api, idle_funded, QUESTION)
    async with running_worker(app, online):
        # The settlement's overage-report task has this key: its insert waits on this
        # uncommitted twin, and its connection is cut there, mid-transaction.
        async with holding(
            settings.database_url,
            "INSERT INTO outbox_tasks (kind, payload, dedupe_key) VALUES ('planted', '{}', %s)",
            (f"overage:{job_id}",),
        ):
            await cut_connections_waiting_on(settings.database_url, "outbox_tasks")
            # Nothing of the settlement was kept: the job is still running, its reservation held.
            assert (await job_row(settings.database_url, job_id))["status"] == "running"
            assert await ledger_rows(settings.database_url, job_id) == [("reserve", -LITE_PRICE)]
        done = await finished(idle_api, idle_funded, job_id)
    await assert_settled_once(settings, app, idle_funded, done, attempts=2)


async def test_a_worker_whose_lease_was_taken_stops_the_run_without_settling_it(
    idle_api, idle_funded, app, settings, online, held_search
):
    tavily, searching = held_search
    job_id = await submit_async_job(idle_api, idle_funded, QUESTION)
    async with running_worker(app, online) as worker:
        await until(searching.is_set, what="the job to start searching")
        async with await psycopg.AsyncConnection.connect(settings.database_url, autocommit=True) as conn:
            await conn.execute(
                "UPDATE research_jobs SET lease_owner = 'another-worker',"
                " lease_expires_at = now() + interval '3 seconds' WHERE id = %s",
                (job_id,),
            )
        await until(lambda: worker.busy_slots == 0, what="the worker to notice it lost the lease")
        row = await job_row(settings.database_url, job_id)
        assert (row["status"], row["lease_owner"]) == ("running", "another-worker")  # left to its owner
        tavily.release.set()
        # "another-worker" never renews: its lease lapses and the job is claimed again.
        done = await finished(idle_api, idle_funded, job_id)
    await assert_settled_once(settings, app, idle_funded, done, attempts=2)


async def test_a_heartbeat_that_loses_its_connection_keeps_the_job_running(
    idle_api, idle_funded, app, settings, online, held_search
):
    """A renewal lost to an outage is skipped, not fatal: the next one holds the lease and the
    job ends on its first attempt."""
    tavily, searching = held_search
    patient = online.model_copy(update={"worker_lease_secs": 10})  # outlives the cut renewal
    job_id = await submit_async_job(idle_api, idle_funded, QUESTION)
    async with running_worker(app, patient):
        await until(searching.is_set, what="the job to start searching")
        async with holding(
            settings.database_url, "SELECT 1 FROM research_jobs WHERE id = %s FOR UPDATE", (job_id,)
        ):
            await cut_connections_waiting_on(settings.database_url, "lease_expires_at")
        held_until = await lease_expiry(settings.database_url, job_id)

        async def renewed() -> bool:
            expiry = await lease_expiry(settings.database_url, job_id)
            return expiry is not None and expiry > held_until

        await until(renewed, timeout=30, what="a renewal after the one that was cut")
        tavily.release.set()
        done = await finished(idle_api, idle_funded, job_id)
    await assert_settled_once(settings, app, idle_funded, done, attempts=1)


async def test_the_worker_listens_again_after_its_listen_connection_is_cut(app, settings):
    async def listeners(conn) -> set[int]:
        cur = await conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query = %s",
            (f"LISTEN {NOTIFY_CHANNEL}",),
        )
        return {pid for (pid,) in await cur.fetchall()}

    async with (
        running_worker(app, settings),
        await psycopg.AsyncConnection.connect(settings.database_url, autocommit=True) as admin,
    ):
        [first] = await until(lambda: listeners(admin), what="the worker to LISTEN")
        await admin.execute("SELECT pg_terminate_backend(%s)", (first,))

        async def a_new_listener() -> bool:
            return bool((await listeners(admin)) - {first})

        await until(a_new_listener, timeout=30, what="the worker to LISTEN on a new connection")


async def runs_started(database_url: str, job_id: str) -> int:
    """How many times the job's graph was given its input (its first checkpoint's source)."""
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cur = await conn.execute(
            "SELECT count(*) FROM checkpoints WHERE thread_id = %s AND metadata ->> 'source' = 'input'",
            (job_id,),
        )
        return (await cur.fetchone())[0]


async def test_a_worker_killed_mid_wave_leaves_a_job_that_ends_as_an_uninterrupted_run_and_is_charged_once(
    idle_api, idle_funded, app, settings, online, held_search
):
    """SIGKILL an `infrence worker` while its job's search is in flight: the next worker resumes
    the job from the checkpoints the killed one wrote, and it ends exactly as the same question
    run without interruption — same brief, sources, basis and spend — charged once."""
    tavily, searching = held_search
    interrupted_id = await submit_async_job(idle_api, idle_funded, QUESTION)
    env = server_env(
        online,
        TAVILY_API_KEY=online.tavily_api_key,
        TAVILY_API_BASE=online.tavily_api_base,
        INFRENCE_WORKER_LEASE_SECS=str(online.worker_lease_secs),
    )
    log = settings.data_dir / "killed-worker.log"
    killed = worker_process(env, log)
    try:
        await until(searching.is_set, what=f"the job to start searching:\n{log.read_text()}")
    finally:
        killed.send_signal(signal.SIGKILL)
        killed.wait()
    tavily.delays.clear()
    tavily.release.set()
    async with running_worker(app, online):
        interrupted = await finished(idle_api, idle_funded, interrupted_id)
        uninterrupted = await finished(
            idle_api, idle_funded, await submit_async_job(idle_api, idle_funded, QUESTION)
        )

    assert interrupted["status"] == uninterrupted["status"] == "succeeded", interrupted
    kept = ("brief", "sources", "basis", "typed", "stop_reason", "wave_count", "usage", "cost_usd")
    assert {k: interrupted[k] for k in kept} == {k: uninterrupted[k] for k in kept}
    assert (await job_row(settings.database_url, interrupted_id))["attempts"] == 2
    assert await runs_started(settings.database_url, interrupted_id) == 1  # resumed, not restarted
    for job in (interrupted, uninterrupted):
        assert job["credits_charged"] == LITE_PRICE
        assert await ledger_rows(settings.database_url, job["id"]) == [("reserve", -LITE_PRICE)]
    assert await balance_of(app.state.db, idle_funded) == 1000 - 2 * LITE_PRICE
    assert (await check_ledger(app.state.db)).clean
