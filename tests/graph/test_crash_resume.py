"""Crash resume: a checkpointed run is SIGKILLed mid-wave; resuming with the same thread id
finishes it without re-running the branches that had already finished."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest

from api.research.checkpointer import JobCheckpointer
from graph.builder import build_graph
from tests.graph.conftest import online_settings
from tests.graph.crash_worker import QUESTION, context_from_env, run_config

REPO = Path(__file__).resolve().parents[2]
SLOW = "statistics"  # the planner's fourth angle: its search hangs until the worker is killed


def finished_branches(database_url: str, thread_id: str) -> int:
    with psycopg.connect(database_url, autocommit=True) as conn:
        try:
            row = conn.execute(
                "SELECT count(DISTINCT task_id) FROM checkpoint_writes "
                "WHERE thread_id = %s AND channel = 'queries_done'",
                (thread_id,),
            ).fetchone()
        except psycopg.errors.UndefinedTable:
            return 0
    return row[0]


def wait_for(condition, proc: subprocess.Popen, log: Path, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"worker exited early:\n{log.read_text()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out:\n{log.read_text()}")
        time.sleep(0.1)


@pytest.fixture
def worker_env(llm, tavily, tmp_path, database_url, monkeypatch):
    settings = online_settings(llm, tavily, tmp_path)
    env = {
        "DATABASE_URL": database_url,
        "THREAD_ID": str(uuid.uuid4()),
        "OPENAI_API_KEY": settings["openai_api_key"],
        "OPENAI_BASE_URL": settings["openai_base_url"],
        "TAVILY_API_KEY": settings["tavily_api_key"],
        "TAVILY_API_BASE": settings["tavily_api_base"],
        "INFRENCE_DATA_DIR": str(tmp_path),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


async def test_a_killed_run_resumes_without_redoing_finished_branches(worker_env, llm, tavily, tmp_path):
    from psycopg.rows import dict_row
    from psycopg_pool import AsyncConnectionPool

    tavily.delay_when(lambda q: SLOW in q, 60)
    log = tmp_path / "worker.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.graph.crash_worker"],
            cwd=REPO,
            env={**os.environ, **worker_env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    thread_id = worker_env["THREAD_ID"]
    try:
        wait_for(
            lambda: (
                finished_branches(worker_env["DATABASE_URL"], thread_id) == 3
                and any(SLOW in q for q in tavily.calls)
            ),
            proc,
            log,
        )
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    tavily.delays.clear()
    tavily.release.set()  # free the fake's thread still holding the dead worker's request

    wave_one = list(dict.fromkeys(tavily.calls))
    assert len(wave_one) == 4
    finished = [q for q in wave_one if SLOW not in q]
    extractions_before = {q: sum(1 for p in llm.calls_for("extraction") if p["query"] == q) for q in finished}

    kwargs = {"autocommit": True, "row_factory": dict_row}
    async with AsyncConnectionPool(worker_env["DATABASE_URL"], kwargs=kwargs, open=False) as pool:
        graph = build_graph(JobCheckpointer(pool))
        ctx = context_from_env()
        try:
            state = await graph.ainvoke(None, config=run_config(thread_id), context=ctx, durability="sync")
        finally:
            await ctx.aclose()

    for query in finished:
        assert tavily.calls_for(query) == 1, f"finished branch {query!r} searched again"
        assert sum(1 for p in llm.calls_for("extraction") if p["query"] == query) == extractions_before[query]
    slow_query = next(q for q in wave_one if SLOW in q)
    assert tavily.calls_for(slow_query) == 2  # the interrupted branch, and only it, ran again
    assert state["question"] == QUESTION and state["waves_done"] == 2
    assert state["brief"] and state["typed"] and state["stop_reason"] in ("complete", "budget")
    assert len(llm.calls_for("plan")) == 1
    assert slow_query in state["queries_done"] and all(q in state["queries_done"] for q in finished)
