"""Research over a real `infrence serve` on TCP, and a worker crash mid-wave."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading

import httpx
import psycopg
import pytest

from core.db import Database
from ledger.check import check_ledger
from tests.accounts import balance_of, open_account
from tests.conftest import REPO, server_env, worker_process
from tests.fakes.tavily_server import FakeTavily
from tests.research.test_events_and_webhooks import _events
from tests.waiting import until

DOCUMENTS = [
    {"url": f"https://docs.example.org/{slug}", "title": title, "text": text}
    for slug, title, text in [
        (
            "graphs",
            "State graphs",
            "A state graph runs nodes in steps. Each step is checkpointed. "
            "Parallel branches are created with Send and run at the same time.",
        ),
        (
            "checkpoints",
            "Checkpoints",
            "Checkpoints store the state after every step in PostgreSQL. "
            "A crashed run resumes from its last checkpoint.",
        ),
        (
            "budgets",
            "Budgets",
            "A budget gate stops research when time or money runs low. "
            "Synthesis keeps a reserve of time and cost.",
        ),
        ("workers", "Workers", "Workers claim jobs with SKIP LOCKED and hold a lease with heartbeats."),
    ]
]


@pytest.fixture
async def db(settings):
    database = Database(settings.database_url, min_size=1, max_size=4)
    await database.open()
    yield database
    await database.close()


async def test_research_over_tcp_sync_then_async_with_resumed_sse(live_server, db):
    async with httpx.AsyncClient(base_url=live_server.base_url, timeout=120) as http:
        account = await open_account(http, db, credits=1000)
        sync = await http.post(
            "/v1/research", headers=account.key, json={"question": "How do checkpoints work?", "mode": "lite"}
        )
        assert sync.status_code == 200, sync.text
        assert sync.json()["status"] == "succeeded" and sync.json()["sources"]

        accepted = await http.post(
            "/v1/research",
            headers=account.key,
            json={"question": "What does a budget gate do?", "mode": "standard", "async": True},
        )
        assert accepted.status_code == 202
        events_url = accepted.json()["events_url"]
        first = await _events(http, events_url, account.key, stop_after=2)
        rest = await _events(http, events_url, {**account.key, "Last-Event-ID": first[-1]["id"]})
        assert rest[-1]["type"] == "job.succeeded"
        assert len({e["id"] for e in first + rest}) == len(first + rest)
    assert await balance_of(db, account) == 1000 - 15 - 60
    assert (await check_ledger(db)).clean


def _start_worker(settings, tavily: FakeTavily, log_path) -> subprocess.Popen:
    env = server_env(
        settings, TAVILY_API_KEY=tavily.api_key, TAVILY_API_BASE=tavily.url, INFRENCE_WORKER_LEASE_SECS="3"
    )
    return worker_process(env, log_path)


async def _lease_owner_pid(settings, job_id: str) -> int | None:
    async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
        row = await (
            await conn.execute("SELECT lease_owner FROM research_jobs WHERE id = %s", (job_id,))
        ).fetchone()
    return int(row[0].split(":")[1]) if row and row[0] else None


async def test_a_worker_killed_mid_wave_leaves_the_job_to_another_charged_once(
    idle_api, app, settings, tmp_path
):
    with FakeTavily(DOCUMENTS, latency=0.3) as tavily:
        mid_wave = threading.Event()
        tavily.on_request = lambda query: mid_wave.set()
        workers = [_start_worker(settings, tavily, tmp_path / f"worker-{i}.log") for i in range(2)]
        try:
            account = await open_account(idle_api, app.state.db, credits=1000)
            job = (
                await idle_api.post(
                    "/v1/research",
                    headers=account.key,
                    json={
                        "question": "How do workers resume crashed jobs from checkpoints?",
                        "mode": "standard",
                        "async": True,
                    },
                )
            ).json()
            await until(mid_wave.is_set, what="a worker to start searching")
            victim_pid = await _lease_owner_pid(settings, job["id"])
            victim = next(w for w in workers if w.pid == victim_pid)
            victim.send_signal(signal.SIGKILL)
            victim.wait()

            done = (
                await idle_api.get(f"/v1/research/{job['id']}", params={"wait": 60}, headers=account.key)
            ).json()
            assert done["status"] == "succeeded", done
            assert done["credits_charged"] == 60
        finally:
            for worker in workers:
                if worker.poll() is None:
                    worker.send_signal(signal.SIGTERM)
                    worker.wait(timeout=30)
    async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
        attempts = (
            await (
                await conn.execute("SELECT attempts FROM research_jobs WHERE id = %s", (job["id"],))
            ).fetchone()
        )[0]
        kinds = [
            r[0]
            for r in await (
                await conn.execute(
                    "SELECT kind FROM credit_ledger WHERE related_id = %s ORDER BY seq", (job["id"],)
                )
            ).fetchall()
        ]
    assert attempts == 2
    assert kinds == ["reserve"]  # charged the full price: nothing to release
    assert await balance_of(app.state.db, account) == 1000 - 60
    check = subprocess.run(
        [sys.executable, "-m", "api.cli", "ledger", "check"],
        cwd=REPO,
        env=server_env(settings),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0, check.stdout + check.stderr
