"""PostgreSQL restarts under a light load: the API answers 503 meanwhile, recovers without a
restart of its own, and no job is left stuck (a lapsed lease is reclaimed, the graph resumes)."""

from __future__ import annotations

import asyncio
import threading
import uuid
from datetime import UTC, datetime

import httpx
import psycopg
import pytest

from api.app import create_app
from api.runtime import background_services_for
from core.migrate import apply_migrations
from ledger.check import check_ledger
from tests.accounts import balance_of, open_account
from tests.conftest import traversable_tempdir
from tests.fakes.tavily_server import FakeTavily
from tests.research.test_live import DOCUMENTS
from tests.waiting import until


class RestartablePostgres:
    """An embedded PostgreSQL of this test's own that can be stopped and started again."""

    def __init__(self):
        import pgserver

        self.server = pgserver.get_server(
            traversable_tempdir("infrence-chaos-pg-") / "pg", cleanup_mode="stop"
        )
        self.url = self.server.get_uri()
        apply_migrations(self.url)

    def stop(self) -> None:
        from pgserver._commands import pg_ctl

        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.server.pgdata, user=self.server.system_user)

    def start(self) -> None:
        self.server.ensure_postgres_running()


@pytest.fixture(scope="module")
def chaos_postgres():
    return RestartablePostgres()


async def test_the_api_answers_503_during_a_postgres_restart_and_jobs_finish(
    settings, chaos_postgres, redis_url
):
    with FakeTavily(DOCUMENTS, latency=0.8) as tavily:
        searching = threading.Event()
        tavily.on_request = lambda _query: searching.set()
        chaos_settings = settings.model_copy(
            update={
                "database_url": chaos_postgres.url,
                "tavily_api_key": tavily.api_key,
                "tavily_api_base": tavily.url,
                "worker_lease_secs": 3,
            }
        )
        application = create_app(
            chaos_settings, background_services=background_services_for(chaos_settings, 2)
        )
        async with (
            application.router.lifespan_context(application),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=application), base_url="http://testserver", timeout=60
            ) as http,
        ):
            account = await open_account(http, application.state.db, credits=1000)
            jobs = [
                (
                    await http.post(
                        "/v1/research",
                        headers=account.key,
                        json={
                            "question": f"How do workers resume jobs? ({i})",
                            "mode": "lite",
                            "async": True,
                        },
                    )
                ).json()
                for i in range(3)
            ]
            await until(searching.is_set, what="a job to start searching")
            running_at_outage = [
                j["id"]
                for j in jobs
                if (await http.get(f"/v1/research/{j['id']}", headers=account.key)).json()["status"]
                == "running"
            ]
            assert running_at_outage, "the outage must overlap running jobs"

            outage_started = datetime.now(UTC)
            chaos_postgres.stop()
            health = await http.get("/healthz")
            status = await http.get(f"/v1/research/{jobs[0]['id']}", headers=account.key)
            assert health.status_code == 503 and health.json()["database"] == "unreachable"
            assert status.status_code == 503 and status.json()["code"] == "database_unavailable"
            await asyncio.sleep(1.0)  # how long the outage lasts
            chaos_postgres.start()

            async def healthy() -> bool:
                return (await http.get("/healthz")).status_code == 200

            await until(healthy, what="the API to see PostgreSQL again")
            finals = [
                (await http.get(f"/v1/research/{job['id']}", params={"wait": 60}, headers=account.key)).json()
                for job in jobs
            ]
            assert [f["status"] for f in finals] == ["succeeded"] * 3, finals
            assert [f["credits_charged"] for f in finals] == [15] * 3
            assert await balance_of(application.state.db, account) == 1000 - 45
            assert (await check_ledger(application.state.db)).clean
    async with await psycopg.AsyncConnection.connect(chaos_postgres.url) as conn:
        stuck = await (
            await conn.execute("SELECT count(*) FROM research_jobs WHERE status IN ('queued', 'running')")
        ).fetchone()
        spans = await (
            await conn.execute(
                "SELECT started_at, completed_at FROM research_jobs WHERE id = ANY(%s)",
                ([uuid.UUID(i) for i in running_at_outage],),
            )
        ).fetchall()
    assert stuck[0] == 0
    # The jobs that were running when PostgreSQL went away finished only after it came back.
    assert spans and all(started < outage_started < completed for started, completed in spans)
