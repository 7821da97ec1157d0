"""MCP connectors: a client's own remote MCP server (Streamable HTTP) searched like the web.

Each tool of the server that takes a text query (an argument named like `query`, or its only
string argument) — restricted to `allowed_tools` when given — is called with the branch's
query. Every text the tool returns becomes one result whose id is
`mcp://<host>/<tool>/<digest of the text>` and whose text is what quotes are sliced from.

A connector never fails the run: a timeout, a refused connection, a tool error or an oversized
answer is returned as a failure beside whatever the other tools gave, and the branch records it.
Connections go through the SSRF guard; the client's headers are sent to its server only and
appear in no message, log line or result.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from typing import Any

import httpx2
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

from graph.providers.netguard import guarded_httpx2_client
from graph.providers.search import SearchResult, SearchResults, reciprocal_rank_fusion
from graph.providers.text import clip

CONNECTOR_TIMEOUT_SECS = 20.0  # one search on one server: connect, initialise, list, call
MAX_RESULT_CHARS = 200_000  # the text of one tool answer; beyond it the answer is dropped
QUERY_ARGUMENTS = ("query", "q", "search_query", "search", "question", "text", "keywords", "prompt")


@dataclass(frozen=True)
class McpServer:
    url: str
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    allowed_tools: tuple[str, ...] | None = None


def query_argument(input_schema: dict[str, Any]) -> str | None:
    """The argument a tool takes a text query in, or None when it cannot be called with one
    (no string argument to put it in, or other required arguments we could not fill)."""
    properties = input_schema.get("properties") or {}
    strings = [
        name for name, spec in properties.items() if isinstance(spec, dict) and spec.get("type") == "string"
    ]
    required = list(input_schema.get("required") or ())
    named = [name for name in QUERY_ARGUMENTS if name in strings]
    chosen = named[0] if named else (strings[0] if len(strings) == 1 else None)
    if chosen is None or any(name != chosen for name in required):
        return None
    return chosen


def texts_of(answer: Any) -> list[tuple[str, str]]:
    """(title, text) of each document in a tool's answer: items of a structured list with a text
    field (`content`, `text`, `snippet`), else each text block."""
    data = answer.structured_content
    if isinstance(data, dict) and len(data) == 1:
        data = next(iter(data.values()))  # SDK servers wrap a returned list as {"result": [...]}
    if isinstance(data, list) and data and all(isinstance(item, dict) for item in data):
        documents = []
        for item in data:
            text = next((item[k] for k in ("content", "text", "snippet") if isinstance(item.get(k), str)), "")
            if text.strip():
                title = item.get("title") or item.get("url") or text.strip().splitlines()[0]
                documents.append((clip(str(title), 200), text))
        return documents
    return [
        (clip(block.text.strip().splitlines()[0], 200), block.text)
        for block in answer.content
        if getattr(block, "type", None) == "text" and block.text.strip()
    ]


class McpSearch:
    """One connector server as a search provider (see the module docstring)."""

    name = "mcp"

    def __init__(
        self, server: McpServer, *, allow_private: bool = False, timeout: float = CONNECTOR_TIMEOUT_SECS
    ):
        self.server = server
        self.host = httpx2.URL(server.url).host
        self.allow_private = allow_private
        self.timeout = timeout

    async def search(self, query: str, max_results: int) -> list[SearchResult]:
        failures: list[str] = []
        rankings: list[list[SearchResult]] = []
        try:
            async with asyncio.timeout(self.timeout):
                await self._ask(query, max_results, rankings, failures)
        except TimeoutError:
            failures.append(f"mcp://{self.host}: no answer within {self.timeout:g}s")
        except Exception as exc:
            failures.append(f"mcp://{self.host}: {describe(exc)}")
        fused = reciprocal_rank_fusion(rankings, key=lambda result: result.url)[:max_results]
        return SearchResults((result for _, result in fused), failures)

    async def _ask(
        self, query: str, max_results: int, rankings: list[list[SearchResult]], failures: list[str]
    ) -> None:
        async with (
            guarded_httpx2_client(
                allow_private=self.allow_private, timeout=self.timeout, headers=self.server.headers
            ) as http,
            streamable_http_client(self.server.url, http_client=http) as streams,
            ClientSession(*streams[:2]) as session,
        ):
            await session.initialize()
            tools = [
                (tool.name, argument)
                for tool in (await session.list_tools()).tools
                if (argument := query_argument(tool.input_schema or {})) is not None
                and (self.server.allowed_tools is None or tool.name in self.server.allowed_tools)
            ]
            if not tools:
                failures.append(f"mcp://{self.host}: no tool takes a text query")
                return
            for tool, argument in tools:
                try:
                    answer = await session.call_tool(tool, {argument: query})
                except Exception as exc:
                    failures.append(f"mcp://{self.host}/{tool}: {describe(exc)}")
                    continue
                rankings.append(self._results(tool, answer, max_results, failures))

    def _results(self, tool: str, answer: Any, max_results: int, failures: list[str]) -> list[SearchResult]:
        where = f"mcp://{self.host}/{tool}"
        if answer.is_error:
            message = " ".join(b.text for b in answer.content if getattr(b, "type", None) == "text")
            failures.append(f"{where}: the tool answered an error: {clip(message, 200)}")
            return []
        documents = texts_of(answer)
        size = sum(len(text) for _, text in documents)
        if size > MAX_RESULT_CHARS:
            failures.append(f"{where}: answer of {size} characters is over {MAX_RESULT_CHARS}, dropped")
            return []
        return [
            SearchResult(
                url=f"{where}/{hashlib.sha256(text.encode()).hexdigest()[:16]}",
                title=title,
                snippet=clip(text, 300),
                score=1.0 / (rank + 1),
                domain=self.host,
                raw_content=text,
            )
            for rank, (title, text) in enumerate(documents[:max_results])
        ]

    async def aclose(self) -> None:
        return None


def describe(exc: BaseException) -> str:
    """A short, header-free account of a failure (exception groups unwrapped to their first)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc)
    return f"{type(exc).__name__}: {clip(text, 200)}" if text else type(exc).__name__
