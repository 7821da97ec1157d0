"""A third-party MCP server (official SDK, Streamable HTTP) over real HTTP, to be used as a
research connector.

    with FakeMcpServer(documents) as server:        # 127.0.0.1, random port, its own thread
        {"mcp_servers": [{"url": server.url, "headers": {...}}]}

Tools: `search(query)` answers the `documents` sharing a word with the query (as a structured
list of {title, content}); `explode(query)` always errors; `flood(query)` answers more text
than a connector accepts; `lookup(record: int)` takes no text query. `headers_seen` lists the
headers of each tool call.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from typing import Any

import uvicorn
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.transport_security import TransportSecuritySettings

FLOOD_CHARS = 300_000


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]{4,}", text.lower()))


class FakeMcpServer:
    def __init__(self, documents: dict[str, str]):
        self.documents = documents
        self.headers_seen: list[dict[str, str]] = []
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        app = self._server().streamable_http_app(
            json_response=True,
            stateless_http=True,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self._uvicorn = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._uvicorn.run, daemon=True)

    def _server(self) -> MCPServer:
        server = MCPServer(name="fake-notes")

        def seen(ctx: Context) -> None:
            self.headers_seen.append(dict(ctx.headers or {}))

        @server.tool(description="Search the team's notes.")
        async def search(query: str, ctx: Context) -> list[dict[str, Any]]:
            seen(ctx)
            asked = _words(query)
            return [
                {"title": title, "content": text}
                for title, text in self.documents.items()
                if asked & _words(text)
            ]

        @server.tool(description="Always fails.")
        async def explode(query: str, ctx: Context) -> str:
            seen(ctx)
            raise RuntimeError("the notes index is down")

        @server.tool(description="Answers far too much.")
        async def flood(query: str, ctx: Context) -> str:
            seen(ctx)
            return "notes " * (FLOOD_CHARS // 6)

        @server.tool(description="A record by number (no text query).")
        async def lookup(record: int, ctx: Context) -> str:
            seen(ctx)
            return f"record {record}"

        return server

    def __enter__(self) -> FakeMcpServer:
        self._thread.start()
        deadline = time.monotonic() + 60
        while not self._uvicorn.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the fake MCP server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self._uvicorn.should_exit = True
        self._thread.join(timeout=30)
