"""Smoke check for Studio: start `langgraph dev` on langgraph.json and run the `research` graph
through langgraph_sdk, offline (no keys: built-in corpus, offline reasoner).

    uv run python -m tests.graph.studio_smoke

Not part of the pytest suite (the dev server takes ~20 s to start on 2 cores).
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def run_once(url: str) -> dict:
    from langgraph_sdk import get_client

    client = get_client(url=url)
    thread = await client.threads.create()
    events, final = [], None
    async for part in client.runs.stream(
        thread["thread_id"],
        "research",
        stream_mode=["custom", "values"],
        input={"question": "How are webhooks signed?", "mode": "lite"},
    ):
        if part.event == "values":
            final = part.data
        elif part.event.startswith("custom"):
            events.append(part.data["type"])
        elif part.event == "error":
            raise RuntimeError(part.data)
    assert final and final.get("brief") and final.get("typed"), final
    print(
        f"ok: {len(events)} events ({', '.join(dict.fromkeys(events))}); stop_reason={final['stop_reason']}"
    )
    return final


def main() -> int:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "TAVILY_API_KEY")}
    env.update(
        LANGSMITH_TRACING="false", LANGGRAPH_CLI_NO_ANALYTICS="1", INFRENCE_DATA_DIR=tempfile.mkdtemp()
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "langgraph_cli", "dev", "--no-browser", "--no-reload", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(url + "/ok", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                print("langgraph dev did not start", file=sys.stderr)
                return 1
            time.sleep(0.5)
        asyncio.run(run_once(url))
        return 0
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
