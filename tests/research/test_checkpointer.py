"""The worker's checkpointer writes the library's own rows: a run saved through it reads back, with
the library's saver, exactly as the same run saved by the library does — so `aget_state`, resume,
`langgraph dev`/Studio and the retention prune keep working on the worker's threads."""

from __future__ import annotations

import operator
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any, TypedDict

import pytest
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.serde.types import _DeltaSnapshot
from langgraph.constants import END, START
from langgraph.graph import StateGraph
from langgraph.types import Command, Interrupt, Send, interrupt
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from api.research.checkpointer import JobCheckpointer

INTERRUPT = "__interrupt__"


class Topic(TypedDict):
    topic: str
    found: Annotated[list[str], operator.add]
    answer: str


def fan_out(state: Topic) -> list[Send]:
    return [Send("branch", {"topic": state["topic"], "n": n}) for n in range(3)]


def branch(payload: dict[str, Any]) -> dict[str, list[str]]:
    return {"found": [f"{payload['topic']}-{payload['n']}"]}


def decide(state: Topic) -> dict[str, str]:
    approved = interrupt({"found": sorted(state["found"])})
    return {"answer": f"{approved}: {', '.join(sorted(state['found']))}"}


def small_graph(saver):
    """Fan-out by `Send`, a list reducer (blobs), a string (inline), an interrupt (special writes)."""
    builder = StateGraph(Topic)
    builder.add_node("plan", lambda state: {"found": []})
    builder.add_node("branch", branch)
    builder.add_node("decide", decide)
    builder.add_edge(START, "plan")
    builder.add_conditional_edges("plan", fan_out, ["branch"])
    builder.add_edge("branch", "decide")
    builder.add_edge("decide", END)
    return builder.compile(checkpointer=saver)


@pytest.fixture
async def pool(database_url) -> AsyncIterator[AsyncConnectionPool]:
    kwargs = {"autocommit": True, "row_factory": dict_row}
    async with AsyncConnectionPool(database_url, kwargs=kwargs, min_size=1, max_size=2, open=False) as opened:
        await AsyncPostgresSaver(opened).setup()
        yield opened


def _plain(value: Any) -> Any:
    """A value with its run-specific ids dropped (interrupt ids hash the task's id)."""
    if isinstance(value, Interrupt):
        return ("interrupt", _plain(value.value))
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


async def history(thread_id: str, pool: AsyncConnectionPool) -> list[tuple]:
    """Every checkpoint of a thread as the library's own saver reads it, newest first."""
    return [
        (
            _plain(saved.checkpoint["channel_values"]),
            saved.metadata["step"],
            saved.metadata["source"],
            sorted((channel, repr(_plain(value))) for _task, channel, value in saved.pending_writes),
        )
        async for saved in AsyncPostgresSaver(pool).alist({"configurable": {"thread_id": thread_id}})
    ]


async def run_to_the_end(saver, thread_id: str) -> dict[str, Any]:
    graph = small_graph(saver)
    config = {"configurable": {"thread_id": thread_id}}
    paused = await graph.ainvoke({"topic": "heat"}, config, durability="sync")
    assert _plain(paused[INTERRUPT]) == [("interrupt", {"found": ["heat-0", "heat-1", "heat-2"]})]
    return await graph.ainvoke(Command(resume="approved"), config, durability="sync")


async def test_a_run_saved_by_the_worker_reads_back_as_the_librarys_own(pool):
    library_thread, worker_thread = str(uuid.uuid4()), str(uuid.uuid4())
    library_result = await run_to_the_end(AsyncPostgresSaver(pool), library_thread)
    worker_result = await run_to_the_end(JobCheckpointer(pool), worker_thread)

    assert worker_result == library_result
    assert worker_result["answer"] == "approved: heat-0, heat-1, heat-2"
    worker_history = await history(worker_thread, pool)
    assert worker_history == await history(library_thread, pool)
    assert len(worker_history) >= 5
    state = await small_graph(AsyncPostgresSaver(pool)).aget_state(
        {"configurable": {"thread_id": worker_thread}}
    )
    assert state.values == library_result and not state.next


async def test_repeated_and_empty_writes_are_kept_as_the_library_keeps_them(pool):
    """A special channel written twice keeps the last write, an ordinary one the first; an empty
    set of writes is a no-op; a checkpoint saved twice keeps one row and its blobs; a delta
    snapshot goes to the blobs with an inline marker."""

    async def saved_by(saver: AsyncPostgresSaver):
        thread = {"configurable": {"thread_id": str(uuid.uuid4()), "checkpoint_ns": ""}}
        checkpoint = empty_checkpoint()
        checkpoint["channel_values"] = {
            "found": ["a", "b"],
            "answer": "yes",
            "empty": None,
            "snap": _DeltaSnapshot(["s"]),
        }
        checkpoint["channel_versions"] = {"found": "1", "answer": "1", "empty": "1", "snap": "1"}
        versions = checkpoint["channel_versions"]
        config = await saver.aput(thread, checkpoint, {"source": "input", "step": -1}, versions)
        config = await saver.aput(thread, checkpoint, {"source": "loop", "step": 0}, versions)
        await saver.aput_writes(config, [(INTERRUPT, "first"), (INTERRUPT, "second")], "task-1")
        await saver.aput_writes(config, [(INTERRUPT, "third")], "task-1")
        await saver.aput_writes(config, [], "task-2")
        await saver.aput_writes(config, [("found", ["c"]), ("answer", "no")], "task-3")
        await saver.aput_writes(config, [("found", ["d"])], "task-3")  # a retried task: kept as first
        saved = await AsyncPostgresSaver(saver.conn).aget_tuple(config)
        async with saver.conn.connection() as conn:
            cur = await conn.execute(
                "SELECT checkpoint -> 'channel_values' AS inline FROM checkpoints WHERE thread_id = %s",
                (thread["configurable"]["thread_id"],),
            )
            rows = await cur.fetchall()
        return saved.checkpoint["channel_values"], saved.metadata, saved.pending_writes, rows

    ours, theirs = await saved_by(JobCheckpointer(pool)), await saved_by(AsyncPostgresSaver(pool))
    assert ours == theirs
    assert ours[0] == {"found": ["a", "b"], "answer": "yes", "empty": None, "snap": _DeltaSnapshot(["s"])}
    assert ours[2] == [("task-1", INTERRUPT, "third"), ("task-3", "found", ["c"]), ("task-3", "answer", "no")]
    assert ours[3] == [{"inline": {"answer": "yes", "empty": None, "snap": True}}]
