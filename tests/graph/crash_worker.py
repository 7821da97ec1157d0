"""A research run with the job worker's PostgreSQL checkpointer, as a job worker runs it; the crash test SIGKILLs it.

python -m tests.graph.crash_worker   (env: DATABASE_URL, THREAD_ID, DATA_DIR, OPENAI_*, TAVILY_*)
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from api.research.checkpointer import JobCheckpointer
from graph.builder import build_graph
from graph.context import build_context
from graph.modes import budgets_for
from graph.settings import GraphSettings

QUESTION = "How efficient are heat pumps and how do batteries help solar power?"


def context_from_env():
    settings = GraphSettings.from_env()
    return build_context(
        settings, budgets_for("standard"), page_store_path=Path(settings.data_dir) / "pages.sqlite"
    )


def run_config(thread_id: str) -> dict:
    return {"configurable": {"thread_id": thread_id}, "recursion_limit": 64, "max_concurrency": 8}


async def main() -> None:
    from psycopg.rows import dict_row
    from psycopg_pool import AsyncConnectionPool

    kwargs = {"autocommit": True, "row_factory": dict_row, "prepare_threshold": None}
    async with AsyncConnectionPool(os.environ["DATABASE_URL"], kwargs=kwargs, open=False) as pool:
        saver = JobCheckpointer(pool)
        await saver.setup()
        ctx = context_from_env()
        print("started", flush=True)
        await build_graph(saver).ainvoke(
            {"question": QUESTION}, config=run_config(os.environ["THREAD_ID"]), context=ctx, durability="sync"
        )
        await ctx.aclose()
    print("finished", flush=True)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
