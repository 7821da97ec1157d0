"""The official `mcp` SDK client lists our tools and completes research over HTTP with an API key."""

from __future__ import annotations

import json
import uuid

import httpx
import httpx2
import pytest
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

from core.db import Database
from tests.accounts import balance_of, open_account

QUESTION = "How does a crashed LangGraph run resume from its checkpoints?"


@pytest.fixture
async def db(settings):
    database = Database(settings.database_url, min_size=1, max_size=2)
    await database.open()
    yield database
    await database.close()


@pytest.fixture
async def account(shared_server, db):
    async with httpx.AsyncClient(base_url=shared_server.base_url, timeout=60) as http:
        return await open_account(http, db, credits=1000)


def _structured(result) -> dict:
    assert not result.is_error, result.content
    if result.structured_content is not None:
        return result.structured_content.get("result", result.structured_content)
    return json.loads(result.content[0].text)


async def test_an_mcp_client_lists_the_tools_and_researches_with_an_api_key(shared_server, account, db):
    headers = {"Authorization": f"Bearer {account.api_key}"}
    async with httpx2.AsyncClient(headers=headers, timeout=120) as http:
        async with streamable_http_client(f"{shared_server.base_url}/mcp", http_client=http) as streams:
            async with ClientSession(*streams[:2]) as session:
                await session.initialize()
                listed_tools = {tool.name: tool for tool in (await session.list_tools()).tools}
                assert set(listed_tools) == {"research", "get_research", "list_research", "cancel_research"}
                assert "collections" in listed_tools["research"].input_schema["properties"]
                foreign = await session.call_tool(
                    "research", {"question": QUESTION, "collections": [str(uuid.uuid4())]}
                )
                assert foreign.is_error and "No such collection" in foreign.content[0].text  # and why

                answered = _structured(
                    await session.call_tool("research", {"question": QUESTION, "mode": "lite"})
                )
                assert answered["status"] == "succeeded"
                assert answered["sources"] and "[1]" in answered["brief"]

                again = _structured(await session.call_tool("get_research", {"job_id": answered["id"]}))
                assert again["id"] == answered["id"]
                listed = _structured(await session.call_tool("list_research", {}))
                assert [job["id"] for job in listed] == [answered["id"]]

                follow_up = _structured(
                    await session.call_tool(
                        "research",
                        {
                            "question": "How are checkpoints stored?",
                            "previous_job_id": answered["id"],
                            "output_language": "de",
                            "source_policy": {"exclude_domains": ["spam.test"]},
                        },
                    )
                )
                assert follow_up["status"] == "succeeded" and follow_up["previous_job_id"] == answered["id"]
                assert follow_up["usage"]["output_language_note"]
                refused = await session.call_tool(
                    "research", {"question": QUESTION, "source_policy": {"include_domains": ["not a host"]}}
                )
                assert refused.is_error and "source_policy.include_domains[0]" in refused.content[0].text
    charged = answered["credits_charged"] + follow_up["credits_charged"]
    assert await balance_of(db, account) == 1000 - charged


async def test_mcp_without_a_valid_key_is_refused_before_the_sdk(shared_server):
    async with httpx.AsyncClient(base_url=shared_server.base_url, timeout=30) as http:
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
        missing = await http.post("/mcp", json=body)
        wrong = await http.post("/mcp", json=body, headers={"Authorization": "Bearer ifr_wrong"})
    assert missing.status_code == 401 and missing.json()["code"] == "unauthorized"
    assert wrong.status_code == 401
