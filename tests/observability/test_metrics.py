"""Prometheus at /metrics: latency by route template, live job levels, provider work, worker slots.
Admins only on the API's listener; without credentials on INFRENCE_METRICS_ADDR."""

from __future__ import annotations

import uuid

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app
from auth.repository import AccountRepository
from tests.accounts import open_account
from tests.conftest import free_port


async def open_admin(client, db) -> dict[str, str]:
    """An admin's bearer header: the API's /metrics answers admins only."""
    account = await open_account(client, db, credits=0)
    async with db.connection() as conn:
        await AccountRepository().promote_to_admin(conn, account.email, None)
    return account.jwt


async def _scrape(client, headers: dict[str, str]) -> dict[str, dict[tuple, float]]:
    """Every sample of a scrape, by name then by its sorted labels."""
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def _value(samples, name: str, **labels) -> float:
    return samples.get(name, {}).get(tuple(sorted(labels.items())), 0.0)


async def test_latency_is_labelled_by_route_template_and_the_queue_is_read_at_scrape_time(client, app):
    operator = await open_admin(client, app.state.db)
    account = await open_account(client, app.state.db, credits=1000)
    before = await _scrape(client, operator)
    missing = uuid.uuid4()
    assert (await client.get(f"/v1/research/{missing}", headers=account.key)).status_code == 404
    queued = await client.post(
        "/v1/research",
        headers=account.key,
        json={"question": "What is a queue?", "mode": "lite", "async": True},
    )
    assert queued.status_code == 202
    after = await _scrape(client, operator)

    count = "infrence_http_request_duration_seconds_count"
    assert (
        _value(after, count, method="GET", route="/v1/research/{id}", status="404")
        == _value(before, count, method="GET", route="/v1/research/{id}", status="404") + 1
    )
    assert not any(str(missing) in str(labels) for labels in after[count])
    assert not any(dict(labels)["route"] == "/metrics" for labels in after[count])
    assert _value(after, "infrence_research_queue_depth") == 1
    assert _value(after, "infrence_research_jobs", status="queued") == 1
    assert _value(after, "infrence_research_jobs", status="running") == 0
    assert "infrence_worker_busy_slots" not in after  # this app runs no worker


async def test_a_finished_job_counts_its_provider_calls_and_frees_its_slot(api, funded, research_app):
    operator = await open_admin(api, research_app.state.db)
    before = await _scrape(api, operator)
    done = (
        await api.post(
            "/v1/research",
            headers=funded.key,
            json={"question": "How do search engines rank pages?", "mode": "lite"},
        )
    ).json()
    assert done["status"] == "succeeded", done
    after = await _scrape(api, operator)

    def total(samples, name):
        return sum(samples.get(name, {}).values())

    assert total(after, "infrence_provider_calls_total") > total(before, "infrence_provider_calls_total")
    assert (
        _value(after, "infrence_research_jobs_finished_total", status="succeeded", mode="lite")
        == _value(before, "infrence_research_jobs_finished_total", status="succeeded", mode="lite") + 1
    )
    assert _value(after, "infrence_worker_slots") == 2
    assert _value(after, "infrence_worker_busy_slots") == 0


async def test_the_api_serves_metrics_to_admins_only_and_keeps_them_out_of_the_schema(client, app):
    operator = await open_admin(client, app.state.db)
    member = await open_account(client, app.state.db, credits=0)
    assert (await client.get("/metrics")).status_code == 401
    assert (await client.get("/metrics", headers=member.jwt)).status_code == 403
    assert (await client.get("/metrics", headers=operator)).status_code == 200
    assert "/metrics" not in app.openapi()["paths"]
    assert "/readyz" not in app.openapi()["paths"]


async def test_a_separate_metrics_listener_serves_scrapes_without_credentials(settings, clean_storage):
    port = free_port()
    application = create_app(settings.model_copy(update={"metrics_addr": f"127.0.0.1:{port}"}))
    async with application.router.lifespan_context(application), httpx.AsyncClient() as http:
        scrape = await http.get(f"http://127.0.0.1:{port}/metrics")
        assert scrape.status_code == 200 and "infrence_research_queue_depth" in scrape.text
        assert (await http.get(f"http://127.0.0.1:{port}/api/auth/me")).status_code == 404
    async with httpx.AsyncClient() as http:
        with pytest.raises(httpx.ConnectError):  # it stops with the app
            await http.get(f"http://127.0.0.1:{port}/metrics")
