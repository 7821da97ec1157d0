"""Extending a finished job: it resumes from its checkpoint under a larger budget, keeps its id
and its event stream, and is charged only the difference the larger budget prices."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading

import httpx
import psycopg

from graph.modes import plan_for
from ledger.check import check_ledger
from tests.accounts import Account, balance_of, open_account
from tests.conftest import REPO, server_env
from tests.fakes.tavily_server import FakeTavily
from tests.research.pages import PAGES, QUESTION
from tests.research.test_events_and_webhooks import _events
from tests.research.test_failure_paths import ledger_rows
from tests.research.test_live import _lease_owner_pid, _start_worker
from tests.waiting import until


async def _finished(api: httpx.AsyncClient, account: Account, job_id: str) -> dict:
    job = (await api.get(f"/v1/research/{job_id}", params={"wait": 60}, headers=account.key)).json()
    assert job["status"] not in ("queued", "running"), job
    return job


async def _lite_job(api: httpx.AsyncClient, account: Account) -> dict:
    job = (
        await api.post("/v1/research", headers=account.key, json={"question": QUESTION, "mode": "lite"})
    ).json()
    assert job["status"] == "succeeded" and job["credits_charged"] == 15, job
    assert job["wave_count"] == 1 and job["stop_reason"] in ("complete", "budget", "deadline")
    return job


async def test_a_lite_job_extended_to_60_credits_runs_more_waves_and_pays_the_difference(
    web_api, web_app, account, tavily, settings
):
    lite = await _lite_job(web_api, account)
    searches_before = len(tavily.calls)
    first_events = await _events(web_api, f"/v1/research/{lite['id']}/events", account.key)
    assert first_events[-1]["type"] == "job.succeeded"

    extend = await web_api.post(
        f"/v1/research/{lite['id']}/extend",
        headers={**account.key, "Idempotency-Key": "more-please"},
        json={"max_credits": 60},
    )
    assert extend.status_code == 202, extend.text
    extended = extend.json()
    assert extended["id"] == lite["id"] and extended["status"] == "queued" and extended["mode"] == "max"
    assert [e["credits"] for e in extended["extensions"]] == [45]  # 60 less the 15 already charged
    again = await web_api.post(
        f"/v1/research/{lite['id']}/extend",
        headers={**account.key, "Idempotency-Key": "more-please"},
        json={"max_credits": 60},
    )
    assert again.status_code == 202 and len(again.json()["extensions"]) == 1

    # The stream goes on after the first run's last event: a client resuming there sees the rest.
    more = await _events(
        web_api,
        f"/v1/research/{lite['id']}/events",
        {**account.key, "Last-Event-ID": first_events[-1]["id"]},
    )
    types = [e["type"] for e in more]
    assert types[0] == "job.extended" and types[-1] == "job.succeeded"
    assert "wave.started" in types and "synthesis.started" in types
    done = await _finished(web_api, account, lite["id"])

    assert done["status"] == "succeeded" and done["wave_count"] > 1
    assert len(tavily.calls) > searches_before and done["usage"]["searches"] > lite["usage"]["searches"]
    priced = plan_for("max", max_credits=60).credits_for(done["cost_usd"], done["stop_reason"])
    assert done["credits_charged"] == priced > 15  # the whole run metered under the new cap
    added = done["credits_charged"] - 15
    assert [e["credits"] for e in done["extensions"]] == [added]
    assert await ledger_rows(settings.database_url, lite["id"]) == [
        ("reserve", -15),
        ("reserve", -45),
        *([("release", 45 - added)] if added < 45 else []),
    ]
    assert await balance_of(web_app.state.db, account) == 1000 - done["credits_charged"]
    assert (await check_ledger(web_app.state.db)).clean


async def test_extending_to_a_dearer_mode_charges_its_price_in_total(web_api, web_app, account, settings):
    lite = await _lite_job(web_api, account)
    extend = await web_api.post(
        f"/v1/research/{lite['id']}/extend", headers=account.key, json={"mode": "standard"}
    )
    assert extend.status_code == 202, extend.text
    done = await _finished(web_api, account, lite["id"])
    assert done["status"] == "succeeded" and done["mode"] == "standard" and done["wave_count"] >= 1
    assert done["credits_charged"] == 60 and [e["credits"] for e in done["extensions"]] == [45]
    assert await ledger_rows(settings.database_url, lite["id"]) == [("reserve", -15), ("reserve", -45)]
    assert await balance_of(web_app.state.db, account) == 1000 - 60


async def test_what_cannot_be_extended_is_refused_before_any_charge(web_api, web_app, account, settings):
    lite = await _lite_job(web_api, account)
    url = f"/v1/research/{lite['id']}/extend"
    for body, field in [
        ({}, "max_credits"),
        ({"max_credits": 15}, "max_credits"),  # nothing above what was charged
        ({"mode": "lite"}, "mode"),
        ({"mode": "max"}, "max_credits"),
        ({"max_credits": 60, "budget": 1}, "budget"),
    ]:
        refused = await web_api.post(url, headers=account.key, json=body)
        assert refused.status_code == 400, (body, refused.text)
        assert field in refused.text
    other = await open_account(web_api, web_app.state.db, credits=1000)
    assert (await web_api.post(url, headers=other.key, json={"max_credits": 60})).status_code == 404
    poor = await open_account(web_api, web_app.state.db, credits=20)
    theirs = await _lite_job(web_api, poor)
    assert (
        await web_api.post(f"/v1/research/{theirs['id']}/extend", headers=poor.key, json={"mode": "pro"})
    ).status_code == 402
    assert await ledger_rows(settings.database_url, lite["id"]) == [("reserve", -15)]

    running = await web_api.post(url, headers=account.key, json={"max_credits": 60})
    assert running.status_code == 202
    busy = await web_api.post(url, headers=account.key, json={"max_credits": 80})
    assert busy.status_code == 409 and busy.json()["code"] == "not_extendable"
    await _finished(web_api, account, lite["id"])


async def test_the_dashboard_extends_through_its_own_route(web_api, account):
    lite = (
        await web_api.post(
            "/api/playground/research", headers=account.jwt, json={"question": QUESTION, "mode": "lite"}
        )
    ).json()
    extend = await web_api.post(
        f"/api/playground/research/{lite['id']}/extend", headers=account.jwt, json={"mode": "standard"}
    )
    assert extend.status_code == 202, extend.text
    done = (
        await web_api.get(f"/api/playground/research/{lite['id']}", params={"wait": 60}, headers=account.jwt)
    ).json()
    assert done["status"] == "succeeded" and done["credits_charged"] == 60


async def test_a_worker_killed_during_an_extension_leaves_it_to_another_charged_once(
    idle_api, app, settings, tmp_path
):
    with FakeTavily(PAGES, latency=0.3) as tavily:
        workers = [_start_worker(settings, tavily, tmp_path / f"worker-{i}.log") for i in range(2)]
        try:
            account = await open_account(idle_api, app.state.db, credits=1000)
            lite = (
                await idle_api.post(
                    "/v1/research",
                    headers=account.key,
                    json={"question": QUESTION, "mode": "lite", "async": True},
                )
            ).json()
            lite = await _finished(idle_api, account, lite["id"])
            assert lite["status"] == "succeeded" and lite["credits_charged"] == 15
            extending = threading.Event()
            searched_before = len(tavily.calls)
            tavily.on_request = lambda _query: len(tavily.calls) > searched_before and extending.set()
            extend = await idle_api.post(
                f"/v1/research/{lite['id']}/extend", headers=account.key, json={"max_credits": 60}
            )
            assert extend.status_code == 202, extend.text

            await until(extending.is_set, what="the extension to start searching")
            victim_pid = await _lease_owner_pid(settings, lite["id"])
            victim = next(w for w in workers if w.pid == victim_pid)
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            done = await _finished(idle_api, account, lite["id"])
        finally:
            for worker in workers:
                if worker.poll() is None:
                    worker.send_signal(signal.SIGTERM)
                    worker.wait(timeout=30)

    assert done["status"] == "succeeded" and done["wave_count"] > 1, done
    priced = plan_for("max", max_credits=60).credits_for(done["cost_usd"], done["stop_reason"])
    assert done["credits_charged"] == priced > 15
    added = done["credits_charged"] - 15
    assert [e["credits"] for e in done["extensions"]] == [added]
    async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
        cur = await conn.execute("SELECT attempts FROM research_jobs WHERE id = %s", (lite["id"],))
        assert (await cur.fetchone())[0] == 2  # the killed attempt and the one that finished
    assert await ledger_rows(settings.database_url, lite["id"]) == [
        ("reserve", -15),
        ("reserve", -45),
        ("release", 45 - added),
    ]
    assert await balance_of(app.state.db, account) == 1000 - done["credits_charged"]
    check = subprocess.run(
        [sys.executable, "-m", "api.cli", "ledger", "check"],
        cwd=REPO,
        env=server_env(settings),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0 and "clean" in check.stdout, check.stdout + check.stderr
