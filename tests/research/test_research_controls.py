"""Research controls through POST /v1/research (issue 17): a source policy the provider is told and
we enforce on every result and page read (redirects included), an output language, and
follow-ups that start from an earlier job's claims and sources without reading them again."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import httpx
import pytest
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

from api.app import create_app
from api.runtime import background_services_for
from ledger.check import check_ledger
from tests.accounts import balance_of, open_account
from tests.fakes.openai_server import FakeHTTPServer, Response
from tests.fakes.tavily_server import FakeTavily

QUESTION = "How are checkpoints stored?"
# One topic on several hosts and dates; the fake provider ignores every filter it is sent.
MIXED_WEB = [
    {
        "url": "https://docs.example.org/checkpoints",
        "title": "Checkpoints",
        "text": "Checkpoints are stored in PostgreSQL after every step. A crashed run resumes from its "
        "last stored checkpoint.",
        "published_date": "2025-03-01",
    },
    {
        "url": "https://blog.example.org/checkpoint-storage",
        "title": "How checkpoints are stored",
        "text": "Checkpoints are stored as rows in PostgreSQL, one per step, so stored checkpoints let a "
        "run resume.",
        "published_date": "2023-06-01",
    },
    {
        "url": "https://news.other.net/checkpoints-explained",
        "title": "Checkpoints explained",
        "text": "A checkpoint is stored for every step of a run; stored checkpoints are kept in a database "
        "table.",
        "published_date": "2025-08-15",
    },
    {
        "url": "https://spam.test/checkpoints",
        "title": "Checkpoints stored cheaply",
        "text": "Checkpoints are stored in a key-value store after every step of the run.",
        "published_date": "Mon, 10 Jan 2022 08:00:00 GMT",
    },
]


@asynccontextmanager
async def research_api(settings, tavily: FakeTavily) -> AsyncIterator[tuple[httpx.AsyncClient, object]]:
    """The app with one in-process worker searching the fake Tavily."""
    online = settings.model_copy(update={"tavily_api_key": tavily.api_key, "tavily_api_base": tavily.url})
    application = create_app(online, background_services=background_services_for(online, 1))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=120) as http:
            yield http, application


@pytest.fixture
async def mixed_web(settings, clean_storage):
    with FakeTavily(MIXED_WEB) as tavily:
        async with research_api(settings, tavily) as (http, application):
            account = await open_account(http, application.state.db, credits=1000)
            yield http, account, tavily


def host_of(url: str) -> str:
    return httpx.URL(url).host


async def research(http: httpx.AsyncClient, account, **body) -> dict:
    response = await http.post("/v1/research", headers=account.key, json={"mode": "lite", **body})
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["status"] == "succeeded", result
    return result


async def event_data(http: httpx.AsyncClient, account, job_id: str, kind: str) -> list[dict]:
    from tests.research.test_events_and_webhooks import _events

    events = await _events(http, f"/v1/research/{job_id}/events", account.key)
    return [e["data"] for e in events if e["type"] == kind]


def cited_urls(result: dict) -> list[str]:
    return [s["url"] for n, s in enumerate(result["sources"], start=1) if f"[{n}]" in result["brief"]]


async def test_include_domains_reads_and_cites_only_those_hosts(mixed_web):
    http, account, tavily = mixed_web

    result = await research(
        http, account, question=QUESTION, source_policy={"include_domains": ["example.org"]}
    )

    hosts = {host_of(s["url"]) for s in result["sources"]}
    assert hosts and hosts <= {"docs.example.org", "blog.example.org"}, hosts
    assert cited_urls(result)
    read = await event_data(http, account, result["id"], "source")
    assert {host_of(e["url"]) for e in read} <= {"docs.example.org", "blog.example.org"}
    assert sum(e["off_policy"] for e in await event_data(http, account, result["id"], "search")) > 0
    asked = [r.json() for r in tavily.requests if r.path == "/search"]
    assert asked and all(body["include_domains"] == ["example.org"] for body in asked)


async def test_exclude_domains_never_reads_nor_cites_them(mixed_web):
    http, account, _ = mixed_web

    result = await research(
        http, account, question=QUESTION, source_policy={"exclude_domains": ["other.net", "SPAM.test"]}
    )

    hosts = {host_of(s["url"]) for s in result["sources"]}
    assert hosts and not any(h.endswith(("other.net", "spam.test")) for h in hosts), hosts
    assert "other.net" not in result["brief"] and "spam.test" not in result["brief"]
    read = await event_data(http, account, result["id"], "source")
    assert not any(host_of(e["url"]).endswith(("other.net", "spam.test")) for e in read)


async def test_after_date_reads_no_older_page(mixed_web):
    http, account, tavily = mixed_web

    result = await research(http, account, question=QUESTION, source_policy={"after_date": "2025-01-01"})

    urls = {s["url"] for s in result["sources"]}
    assert urls and urls <= {
        "https://docs.example.org/checkpoints",
        "https://news.other.net/checkpoints-explained",
    }
    asked = [r.json() for r in tavily.requests if r.path == "/search"]
    assert asked and all(body["start_date"] == "2025-01-01" for body in asked)
    assert result["credits_charged"] == 15


@pytest.fixture
def pages() -> Iterator[FakeHTTPServer]:
    """A web server on 127.0.0.1, reached as `localhost` and as `127.0.0.1`: two hosts."""
    site = FakeHTTPServer()
    html = "<html><head><title>{}</title></head><body><p>{}</p></body></html>"
    for doc in MIXED_WEB[:2]:
        path = "/" + doc["url"].rsplit("/", 1)[1]
        page = html.format(doc["title"], doc["text"])
        site.route("GET", path, lambda r, page=page: Response(200, page, {"Content-Type": "text/html"}))
    with site:
        port = httpx.URL(site.url).port
        site.route(
            "GET",
            "/moved",
            lambda r: Response(302, "", {"Location": f"http://127.0.0.1:{port}/checkpoints"}),
        )
        yield site


async def test_a_redirect_to_an_off_policy_host_is_refused(settings, clean_storage, pages):
    port = httpx.URL(pages.url).port
    documents = [
        {**MIXED_WEB[0], "url": f"http://localhost:{port}/moved"},
        {**MIXED_WEB[1], "url": f"http://localhost:{port}/checkpoint-storage"},
    ]
    with FakeTavily(documents, raw_content=False) as tavily:
        async with research_api(settings, tavily) as (http, application):
            account = await open_account(http, application.state.db, credits=1000)
            result = await research(
                http, account, question=QUESTION, source_policy={"include_domains": ["localhost"]}
            )

    fetched = [r.path for r in pages.requests]
    assert "/moved" in fetched and "/checkpoints" not in fetched  # the hop to 127.0.0.1 never left
    assert [s["url"] for s in result["sources"]] == [f"http://localhost:{port}/checkpoint-storage"]
    refused = [e for e in result["errors"] if e["stage"] == "read"]
    assert refused and "source policy" in refused[0]["error"] and "127.0.0.1" not in refused[0]["error"]


@pytest.mark.parametrize(
    "body, field",
    [
        (
            {"source_policy": {"include_domains": ["a.org", "b.org", "c.org", "https://d.org/x"]}},
            "source_policy.include_domains[3]",
        ),
        ({"source_policy": {"exclude_domains": ["*.ads.net"]}}, "source_policy.exclude_domains[0]"),
        (
            {"source_policy": {"include_domains": [f"h{i}.org" for i in range(51)]}},
            "source_policy.include_domains",
        ),
        (
            {"source_policy": {"after_date": "2025-02-01", "before_date": "2025-01-01"}},
            "source_policy.after_date",
        ),
        ({"source_policy": {"before_date": "last week"}}, "source_policy.before_date"),
        ({"source_policy": {"domains": ["a.org"]}}, "source_policy.domains"),
        ({"output_language": "english"}, "output_language"),
        ({"output_language": "pt_BR"}, "output_language"),
        ({"previous_job_id": "not-a-uuid"}, "previous_job_id"),
    ],
)
async def test_invalid_controls_are_refused_naming_the_field(idle_api, idle_funded, app, body, field):
    response = await idle_api.post(
        "/v1/research", headers=idle_funded.key, json={"question": QUESTION, "mode": "lite", **body}
    )

    assert response.status_code == 400, response.text
    assert field in [e["field"] for e in response.json()["errors"]], response.json()
    assert await balance_of(app.state.db, idle_funded) == 1000


async def test_well_formed_controls_are_accepted(idle_api, idle_funded):
    response = await idle_api.post(
        "/v1/research",
        headers=idle_funded.key,
        json={
            "question": QUESTION,
            "mode": "lite",
            "async": True,
            "output_language": "pt-BR",
            "source_policy": {
                "include_domains": ["Bücher.example", "docs.python.org."],
                "after_date": "2024-01-01",
            },
        },
    )

    assert response.status_code == 202, response.text


async def test_a_follow_up_needs_a_finished_job_of_the_callers_own(idle_api, idle_funded, app):
    running = (
        await idle_api.post(
            "/v1/research",
            headers=idle_funded.key,
            json={"question": QUESTION, "mode": "lite", "async": True},
        )
    ).json()
    stranger = await open_account(idle_api, app.state.db, credits=1000)

    follow_up = {"question": "And how are they pruned?", "mode": "lite", "previous_job_id": running["id"]}
    not_finished = await idle_api.post("/v1/research", headers=idle_funded.key, json=follow_up)
    not_yours = await idle_api.post("/v1/research", headers=stranger.key, json=follow_up)

    assert not_finished.status_code == 409 and not_finished.json()["code"] == "previous_job_not_finished"
    assert not_yours.status_code == 404 and "previous_job_id" in not_yours.json()["detail"]
    assert await balance_of(app.state.db, stranger) == 1000


async def test_the_offline_reasoner_says_it_answers_in_the_sources_language(api, funded):
    result = await research(
        api, funded, question="What is BM25 and what do k1 and b control?", output_language="de"
    )

    assert result["usage"]["reasoner"] == "offline"
    assert "de" in result["usage"]["output_language_note"] and result["usage"]["output_language"] is None


WORKERS_PAGE = {
    "url": "/workers",
    "title": "Workers and leases",
    "text": "Workers claim research jobs with SKIP LOCKED and hold a lease with heartbeats. A worker "
    "that crashes loses its lease, and another worker resumes the run from its stored checkpoint.",
}


@pytest.mark.parametrize("checkpoint", ["kept", "pruned"])
async def test_a_follow_up_cites_the_earlier_jobs_source_without_reading_it_again(
    settings, clean_storage, pages, checkpoint
):
    pages.route(
        "GET",
        "/workers",
        lambda r: Response(
            200,
            f"<html><title>{WORKERS_PAGE['title']}</title><p>{WORKERS_PAGE['text']}</p></html>",
            {"Content-Type": "text/html"},
        ),
    )
    documents = [
        {**MIXED_WEB[0], "url": f"{pages.url}/checkpoints"},
        {**WORKERS_PAGE, "url": f"{pages.url}/workers"},
    ]
    with FakeTavily(documents, raw_content=False) as tavily:
        async with research_api(settings, tavily) as (http, application):
            account = await open_account(http, application.state.db, credits=1000)
            first = await research(http, account, question=QUESTION)
            reads_before = [r.path for r in pages.requests]
            searches_before = len(tavily.calls)
            if checkpoint == "pruned":  # the follow-up starts from the stored result instead
                await AsyncPostgresSaver(application.state.db.pool).adelete_thread(first["id"])

            follow_up = await research(
                http,
                account,
                question="How do workers resume a crashed run from its stored checkpoint?",
                previous_job_id=first["id"],
            )
            balance = await balance_of(application.state.db, account)
            ledger = await check_ledger(application.state.db)

    checkpoints = f"{pages.url}/checkpoints"
    assert checkpoints in cited_urls(first) and reads_before.count("/checkpoints") == 1
    assert checkpoints in cited_urls(follow_up), follow_up
    assert f"{pages.url}/workers" in cited_urls(follow_up)
    assert [r.path for r in pages.requests].count("/checkpoints") == 1  # cited, never read again
    assert len(tavily.calls) > searches_before  # it did research what the follow-up adds
    assert follow_up["previous_job_id"] == first["id"]
    assert follow_up["credits_charged"] == 15 and balance == 1000 - 15 - 15
    assert ledger.clean


async def test_the_playground_takes_the_same_controls(idle_api, idle_funded):
    refused = await idle_api.post(
        "/api/playground/research",
        headers=idle_funded.jwt,
        json={
            "question": QUESTION,
            "mode": "lite",
            "source_policy": {"exclude_domains": ["ok.org", "no/way"]},
        },
    )
    accepted = await idle_api.post(
        "/api/playground/research",
        headers=idle_funded.jwt,
        json={"question": QUESTION, "mode": "lite", "async": True, "output_language": "de"},
    )

    assert (
        refused.status_code == 400
        and refused.json()["errors"][0]["field"] == "source_policy.exclude_domains[1]"
    )
    assert accepted.status_code == 202, accepted.text
