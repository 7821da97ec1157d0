"""Research graph benchmarks (prints figures, asserts nothing).

    uv run python -m bench.graph

1. Parallel efficiency with latency-injected fakes over real HTTP (search 300 ms, page read
   500 ms, LLM 800 ms): critical path / wall time, target >= 0.9.
2. Checkpoint bytes per standard job in PostgreSQL (embedded), target <= 256 KB.
3. Graph overhead per job with instant in-process fakes, target <= 50 ms.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from graph.builder import build_graph
from graph.context import build_context
from graph.modes import budgets_for
from graph.providers.offline import OfflineReasoner
from graph.providers.reader import PageReader
from graph.providers.reasoning import Critique, Extraction, Finding
from graph.providers.search import SearchResult
from tests.fakes.openai_server import FakeHTTPServer, FakeOpenAI, Response
from tests.fakes.tavily_server import FakeTavily
from tests.graph.conftest import ENERGY_QUESTION, corpus_documents, online_settings

SEARCH_SECS, READ_SECS, LLM_SECS = 0.3, 0.5, 0.8
CHECKPOINT_BYTES_SQL = """
SELECT (SELECT coalesce(sum(pg_column_size(c.*)), 0) FROM checkpoints c WHERE thread_id = %(t)s)
     + (SELECT coalesce(sum(pg_column_size(b.*)), 0) FROM checkpoint_blobs b WHERE thread_id = %(t)s)
     + (SELECT coalesce(sum(pg_column_size(w.*)), 0) FROM checkpoint_writes w WHERE thread_id = %(t)s) AS bytes,
       (SELECT count(*) FROM checkpoints WHERE thread_id = %(t)s) AS checkpoints
"""


def website(documents, latency: float) -> FakeHTTPServer:
    site = FakeHTTPServer()
    for doc in documents:
        page = (
            f"<html><head><title>{doc['title']}</title></head><body><article>"
            + "".join(f"<p>{para}</p>" for para in doc["text"].split("\n\n"))
            + "</article></body></html>"
        )

        def serve(request, page=page):
            time.sleep(latency)
            return Response(200, page, {"Content-Type": "text/html; charset=utf-8"})

        site.route("GET", "/" + doc["url"].rsplit("/", 1)[-1], serve)
    return site


async def run(graph, ctx, config=None, question=ENERGY_QUESTION):
    durability = {"durability": "sync"} if graph.checkpointer else {}  # "sync" needs a checkpointer
    return await graph.ainvoke(
        {"question": question}, config={"recursion_limit": 64, **(config or {})}, context=ctx, **durability
    )


async def parallel_efficiency(mode: str) -> None:
    documents = corpus_documents()
    with website(documents, READ_SECS) as site:
        for doc in documents:
            doc["url"] = site.url + "/" + doc["url"].rsplit("/", 1)[-1]
        with (
            FakeOpenAI(latency=LLM_SECS) as llm,
            FakeTavily(documents, latency=SEARCH_SECS, raw_content=False) as tv,
        ):
            settings = {**online_settings(llm, tv, Path(tempfile.mkdtemp())), "allow_private_urls": True}
            ctx = build_context(settings, budgets_for(mode), page_store_path=None)
            # Every fake page lives on 127.0.0.1: lift the per-host politeness limit, which would
            # otherwise serialise reads that real runs spread over many hosts.
            ctx.reader = PageReader(allow_private=True, per_host=16)
            reading_waves: set[int] = set()
            started = time.perf_counter()
            async for kind, chunk in build_graph().astream(
                {"question": ENERGY_QUESTION},
                config={"recursion_limit": 64, "max_concurrency": 16},
                context=ctx,
                stream_mode=["custom", "values"],
            ):
                if kind == "values":
                    state = chunk
                elif chunk["type"] == "source":
                    reading_waves.add(chunk["data"]["wave"])
            wall = time.perf_counter() - started
            await ctx.aclose()
            # The longest chain of provider calls: sequential LLM stages, and per wave one search,
            # plus one read and one extraction when the wave read anything.
            sequential_llm = sum(
                1
                for name, _ in llm.calls
                if name in ("plan", "follow_ups", "brief", "critique", "typed_result")
            )
            critical = (
                sequential_llm * LLM_SECS
                + state["waves_done"] * SEARCH_SECS
                + len(reading_waves) * (READ_SECS + LLM_SECS)
            )
            print(
                f"  {mode:<9} waves={state['waves_done']} searches={state['spend']['searches']} "
                f"pages={state['spend']['pages']} llm_calls={len(llm.calls)}  critical path {critical:.2f}s, "
                f"wall {wall:.2f}s, efficiency {critical / wall:.2f}"
            )


async def checkpoint_bytes() -> None:
    import pgserver
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    from psycopg.rows import dict_row
    from psycopg_pool import AsyncConnectionPool

    with tempfile.TemporaryDirectory() as tmp, FakeOpenAI() as llm, FakeTavily(corpus_documents()) as tv:
        server = pgserver.get_server(Path(tmp) / "pg", cleanup_mode="stop")
        kwargs = {"autocommit": True, "row_factory": dict_row, "prepare_threshold": None}
        async with AsyncConnectionPool(server.get_uri(), kwargs=kwargs, open=False) as pool:
            saver = AsyncPostgresSaver(pool)
            await saver.setup()
            graph = build_graph(saver)
            for label, settings in (
                ("openai+tavily fakes", online_settings(llm, tv, Path(tmp))),
                ("offline corpus", {"data_dir": Path(tmp)}),
            ):
                sizes = []
                for _ in range(3):
                    thread = str(uuid.uuid4())
                    ctx = build_context(settings, budgets_for("standard"), page_store_path=None)
                    await run(graph, ctx, {"configurable": {"thread_id": thread}})
                    await ctx.aclose()
                    async with pool.connection() as conn:
                        row = await (await conn.execute(CHECKPOINT_BYTES_SQL, {"t": thread})).fetchone()
                    sizes.append((row["bytes"], row["checkpoints"]))
                mean = statistics.mean(b for b, _ in sizes)
                print(
                    f"  standard, {label:<20} {mean / 1024:.1f} KB per job over {sizes[0][1]} checkpoints "
                    f"(target <= 256 KB)"
                )
        server.cleanup()


class InstantSearch:
    """In-process search returning the same two documents instantly."""

    name = "corpus"

    def __init__(self):
        self.docs = corpus_documents()

    async def search(self, query, max_results):
        return [
            SearchResult(
                url=f"{d['url']}?q={hash(query) % 97}",
                title=d["title"],
                snippet=d["text"][:100],
                score=1.0,
                domain="energy.example",
                raw_content=d["text"],
            )
            for d in self.docs[:2]
        ]

    async def aclose(self):
        return None


class InstantReasoner(OfflineReasoner):
    """Answers at once with no text processing, so only the graph's own work is timed."""

    name = "instant"

    async def plan(self, question, count, budget=None):
        return [f"{question} {i}" for i in range(count)]

    async def follow_ups(self, question, findings, done, count, budget=None):
        return [f"{question} more {len(done) + i}" for i in range(count)]

    async def extract(self, question, query, page, max_findings, budget=None):
        quote = page.text.split(". ")[0]
        return Extraction(summary=quote, findings=[Finding(text=quote, quote=quote)])

    async def write(self, question, sources, notes, budget=None, *, language=None):
        return "\n".join(f"- {s.claims[0]} [{s.n}]" for s in sources if s.claims)

    async def critique(self, question, brief, budget=None):
        return Critique(answers_question=True, notes=[])


async def overhead(mode: str, reasoner_class=InstantReasoner, runs: int = 20, quiet: bool = False) -> None:
    graph = build_graph()
    times = []
    for i in range(runs + 2):
        ctx = build_context(
            {"data_dir": tempfile.gettempdir()},
            budgets_for(mode),
            reasoner=reasoner_class(),
            search=InstantSearch(),
            page_store_path=None,
        )
        started = time.perf_counter()
        await run(graph, ctx)
        if i >= 2:  # warm-up runs excluded
            times.append(time.perf_counter() - started)
        await ctx.aclose()
    if quiet:
        return
    print(
        f"  {mode:<9} {reasoner_class.name:<8} best {min(times) * 1000:.1f} ms, "
        f"median "
        f"{statistics.median(times) * 1000:.1f} ms per job (no checkpointer; the median moves with machine load)"
    )


async def main() -> None:
    print(
        f"1. parallel efficiency (search {SEARCH_SECS}s, read {READ_SECS}s, LLM {LLM_SECS}s; target >= 0.9)"
    )
    await overhead(
        "lite", OfflineReasoner, runs=0, quiet=True
    )  # warm-up: first-use imports, as a worker's first job
    for mode in ("lite", "standard", "pro"):
        await parallel_efficiency(mode)
    print("2. checkpoint bytes per job in PostgreSQL")
    await checkpoint_bytes()
    print("3. graph overhead per job with instant in-process fakes (target <= 50 ms),")
    print("   then with the offline reasoner doing its own text work")
    for mode in ("lite", "standard", "pro"):
        await overhead(mode)
    for mode in ("lite", "standard", "pro"):
        await overhead(mode, OfflineReasoner)


if __name__ == "__main__":
    asyncio.run(main())
