"""Three API processes and two worker processes on one PostgreSQL and Redis behave as one
service: a job created on one API process streams on another and can be cancelled from either.
One `serve` runs two HTTP processes on its port (`--http-workers 2`) and supervises a worker."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from core.db import Database
from ledger.check import check_ledger
from tests.accounts import balance_of, open_account
from tests.conftest import ServerProcess, free_port, server_env, worker_process
from tests.fakes.tavily_server import FakeTavily
from tests.research.test_events_and_webhooks import _events
from tests.research.test_live import DOCUMENTS


@pytest.fixture
def tavily():
    with FakeTavily(DOCUMENTS, latency=2.0) as fake:  # a pro job runs long enough to cancel
        yield fake


def children_of(pid: int) -> list[str]:
    """The command lines of a process's children (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            if parent == pid:
                found.append((stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except (OSError, ValueError, IndexError):
            continue
    return found


@pytest.fixture
def cluster(settings, clean_storage, tavily, tmp_path):
    """`serve --http-workers 2 --workers 1`, `serve --workers 0` and one `worker` process
    sharing the test database and Redis."""
    env = server_env(settings, TAVILY_API_KEY=tavily.api_key, TAVILY_API_BASE=tavily.url)
    apis = [
        ServerProcess(env, free_port(), workers=1, http_workers=2),
        ServerProcess(env, free_port(), workers=0),
    ]
    worker = worker_process(env, tmp_path / "worker.log", concurrency=2)
    try:
        for api in apis:
            api.wait_healthy(timeout=180)  # five processes start at once on two cores
        yield apis
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
        for api in apis:
            api.stop()


@pytest.fixture
async def db(settings):
    database = Database(settings.database_url, min_size=1, max_size=2)
    await database.open()
    yield database
    await database.close()


async def _wait_for_status(http: httpx.AsyncClient, url: str, headers: dict, status: str) -> dict:
    for _ in range(600):
        job = (await http.get(url, headers=headers)).json()
        if job["status"] == status:
            return job
        await asyncio.sleep(0.1)
    raise AssertionError(f"job never reached {status}: {job}")


async def test_a_job_created_on_one_api_process_streams_and_cancels_on_the_other(cluster, db):
    first, second = cluster
    children = children_of(first.proc.pid)
    assert sum("spawn_main" in c for c in children) == 2, children  # two HTTP processes on one port
    assert sum(" worker " in c for c in children) == 1, children  # and the research worker it supervises
    async with (
        httpx.AsyncClient(base_url=first.base_url, timeout=120) as one,
        httpx.AsyncClient(base_url=second.base_url, timeout=120) as two,
    ):
        account = await open_account(one, db, credits=1000)
        created = await one.post(
            "/v1/research",
            headers=account.key,
            json={"question": "How do checkpoints let a crashed run resume?", "mode": "lite", "async": True},
        )
        assert created.status_code == 202, created.text
        job_id = created.json()["id"]
        streamed = await _events(two, f"/v1/research/{job_id}/events", account.key)
        assert streamed[0]["type"] == "job.queued" and streamed[-1]["type"] == "job.succeeded"

        slow = await two.post(
            "/v1/research",
            headers=account.key,
            json={"question": "What does a budget gate do between waves?", "mode": "pro", "async": True},
        )
        slow_id = slow.json()["id"]
        await _wait_for_status(one, f"/v1/research/{slow_id}", account.key, "running")
        canceled = await one.delete(f"/v1/research/{slow_id}", headers=account.key)
        assert canceled.status_code == 200
        ended = await _events(two, f"/v1/research/{slow_id}/events", account.key)
        assert ended[-1]["type"] == "job.canceled"
        final = (await two.get(f"/v1/research/{slow_id}", headers=account.key)).json()
        assert final["status"] == "canceled" and final["credits_charged"] <= 200

    assert await balance_of(db, account) == 1000 - 15 - final["credits_charged"]
    assert (await check_ledger(db)).clean
