"""MCP connectors: a client's own MCP server searched beside the web, its answers cited as
`mcp://` sources with verbatim quotes; its headers reach it and nothing else; its failures are
recorded, never fatal."""

from __future__ import annotations

import logging

import httpx2
import pytest

from graph.providers.netguard import guarded_httpx2_client
from tests.accounts import open_account
from tests.conftest import free_port
from tests.fakes.mcp_server import FakeMcpServer

NOTES = {
    "kestrel.md": "Project notes. The secret project codename is KESTREL. The launch review happens in April.",
}
QUESTION = "What is the secret project codename and when is the launch review?"
SECRET = "Bearer connector-secret-7f3a"


@pytest.fixture
def notes_server():
    with FakeMcpServer(NOTES) as server:
        yield server


async def _research(api, account, mcp_servers: list[dict], **body) -> dict:
    answer = await api.post(
        "/v1/research",
        headers=account.key,
        json={"question": QUESTION, "mode": "lite", "web": False, "mcp_servers": mcp_servers, **body},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_a_connector_contributes_cited_verbatim_sources_and_its_headers_stay_private(
    api, research_app, notes_server, caplog
):
    caplog.set_level(logging.DEBUG)
    account = await open_account(api, research_app.state.db, credits=1000)
    result = await _research(api, account, [{"url": notes_server.url, "headers": {"Authorization": SECRET}}])
    assert result["status"] == "succeeded", result
    cited = [source["url"] for source in result["sources"]]
    assert cited and all(url.startswith("mcp://127.0.0.1/search/") for url in cited), cited
    assert "KESTREL" in result["brief"] and "[1]" in result["brief"]
    quotes = [c["quote"] for entry in result["basis"] for c in entry["citations"]]
    assert quotes and all(quote in NOTES["kestrel.md"] for quote in quotes), quotes

    assert notes_server.headers_seen and all(
        h.get("authorization") == SECRET for h in notes_server.headers_seen
    )
    async with research_app.state.db.connection() as conn:
        row = await (
            await conn.execute(
                "SELECT row_to_json(j)::text AS whole, connector_headers FROM research_jobs j WHERE id = %s",
                (result["id"],),
            )
        ).fetchone()
    assert row["connector_headers"] is None  # erased when the job ended
    assert "connector-secret" not in row["whole"] and '"Authorization": "[redacted]"' in row["whole"]
    assert "connector-secret" not in caplog.text


async def test_failing_connectors_are_recorded_per_branch_and_never_fail_the_job(
    api, research_app, notes_server
):
    account = await open_account(api, research_app.state.db, credits=1000)
    closed = f"http://127.0.0.1:{free_port()}/mcp"
    result = await _research(
        api,
        account,
        [
            {"url": notes_server.url, "allowed_tools": ["explode", "flood", "lookup"]},
            {"url": closed},
            {"url": notes_server.url, "allowed_tools": ["search"]},
        ],
    )
    assert result["status"] == "succeeded", result
    assert result["sources"] and result["sources"][0]["url"].startswith("mcp://127.0.0.1/search/")
    connector_errors = [e["error"] for e in result["errors"] if e["stage"] == "connector"]
    assert any("/explode: the tool answered an error" in e for e in connector_errors), connector_errors
    assert any("/flood: answer of" in e and "dropped" in e for e in connector_errors), connector_errors
    assert any(e.startswith("mcp://127.0.0.1: ") and "ConnectError" in e for e in connector_errors)
    assert not any("lookup" in e for e in connector_errors)  # not a query tool: never called


async def test_connector_urls_pass_the_ssrf_guard(api, research_app, settings):
    account = await open_account(api, research_app.state.db, credits=1000)
    research_app.state.settings = settings.model_copy(update={"allow_private_urls": False})
    refused = await api.post(
        "/v1/research",
        headers=account.key,
        json={"question": QUESTION, "mcp_servers": [{"url": "http://127.0.0.1:8080/mcp"}], "web": False},
    )
    assert refused.status_code == 400, refused.text
    assert refused.json()["errors"][0]["field"] == "mcp_servers[0].url"
    not_http = await api.post(
        "/v1/research",
        headers=account.key,
        json={"question": QUESTION, "mcp_servers": [{"url": "file:///etc"}]},
    )
    assert not_http.status_code == 400

    # At connect time too (DNS may change between the check and the call): the guarded client refuses.
    async with guarded_httpx2_client(allow_private=False) as http:
        with pytest.raises(httpx2.ConnectError, match="non-public"):
            await http.get("http://127.0.0.1/mcp")
