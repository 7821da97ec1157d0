"""Research throughput with instant fakes: jobs/min for one `infrence worker` process beside
LangGraph's own server (`langgraph dev`) running the same graph (prints figures, never asserts).

    uv run python -m bench.throughput [--jobs 60] [--concurrency 2] [--mode lite]

Both sides run offline (no API keys: the offline reasoner and the built-in corpus), the same
questions in the same mode, with the same number of jobs in flight per process, and are warmed
up with one job first. Each then gets a burst of N submissions; the figure is N over the time
from the first submission to the last job's end, seen by the client.

  infrence   `infrence serve --workers 0` takes the submissions (POST /v1/research, async) and one
             `infrence worker --concurrency C` runs them: leases, PostgreSQL checkpoints, Redis
             events, ledger settlement, all on embedded storage in a temp dir.
  langgraph  `langgraph dev --n-jobs-per-worker C` (in-memory runtime: one process takes the
             runs and executes them) on langgraph.json; a thread and a background run per job.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench import profile
from bench.http_credits import process_cpu_seconds
from bench.jobs import REPO, free_port, open_funded_account, start, stop, wait_healthy
from bench.ledger import postgres_cpu_seconds
from core.db import Database
from core.storage import embedded_postgres_url
from graph.modes import MODE_NAMES, MODES

QUESTIONS = [
    "How are webhooks signed?",
    "How do state graphs checkpoint?",
    "How does bm25 rank documents?",
    "How do servers defend against SSRF?",
    "What does a deep research agent do?",
]
OFFLINE = ("DATABASE_URL", "REDIS_URL", "OPENAI_API_KEY", "TAVILY_API_KEY", "LANGSMITH_API_KEY")


def offline_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in OFFLINE}
    env.update(
        {
            "INFRENCE_DATA_DIR": str(data_dir),
            "INFRENCE_RESEARCH_CREATES_PER_MINUTE": "1000000",
            "LANGSMITH_TRACING": "false",
            "LANGGRAPH_CLI_NO_ANALYTICS": "1",
        }
    )
    return env


def report(name: str, jobs: int, succeeded: int, elapsed: float, cpu: str) -> float:
    per_minute = jobs / elapsed * 60
    print(
        f"  {name:<44} {per_minute:7.0f} jobs/min   "
        f"({jobs} jobs in {elapsed:.1f} s, {succeeded} succeeded; CPU per job: {cpu})"
    )
    return per_minute


async def infrence_burst(
    http: httpx.AsyncClient, db: Database, key: dict, questions: list[str], mode: str
) -> tuple[int, float]:
    """Submit every question at once, then poll the database until every job has ended."""
    began = time.perf_counter()

    async def submit(question: str) -> str:
        response = await http.post(
            "/v1/research", headers=key, json={"question": question, "mode": mode, "async": True}
        )
        if response.status_code != 202:
            raise SystemExit(f"create failed: {response.status_code} {response.text}")
        return response.json()["id"]

    ids = await asyncio.gather(*(submit(q) for q in questions))
    while True:
        async with db.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT count(*) FILTER (WHERE completed_at IS NOT NULL) AS ended,"
                    "       count(*) FILTER (WHERE status = 'succeeded') AS succeeded"
                    " FROM research_jobs WHERE id = ANY(%s::uuid[])",
                    (ids,),
                )
            ).fetchone()
        if row["ended"] == len(ids):
            return row["succeeded"], time.perf_counter() - began
        await asyncio.sleep(0.05)


async def bench_infrence(args: argparse.Namespace, questions: list[str]) -> float:
    data_dir = Path(tempfile.mkdtemp(prefix="infrence-bench-throughput-"))
    data_dir.chmod(0o755)  # pgserver drops root to its own user, which must enter the dir
    env = offline_env(data_dir)
    port = free_port()
    server = start(["serve", "--port", str(port), "--workers", "0"], env, data_dir / "serve.log")
    worker = None
    try:
        await wait_healthy(f"http://127.0.0.1:{port}")
        worker = start(["worker", "--concurrency", str(args.concurrency)], env, data_dir / "worker.log")
        db = Database(embedded_postgres_url(data_dir), min_size=1, max_size=2)
        await db.open()
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", timeout=120, limits=httpx.Limits(max_connections=64)
        ) as http:
            key = await open_funded_account(http, db, MODES[args.mode].price_credits * (len(questions) + 10))
            await infrence_burst(http, db, key, questions[:1], args.mode)  # warm-up
            postmaster = int((data_dir / "pg" / "postmaster.pid").read_text().split()[0])

            def cpu_now() -> list[float]:
                return [
                    process_cpu_seconds(worker.pid),
                    process_cpu_seconds(server.pid),
                    postgres_cpu_seconds(postmaster),
                ]

            raw = Path(args.profile or data_dir) / "worker.txt"
            sampler = profile.record(worker.pid, 3600, raw) if args.profile else None
            before = cpu_now()
            succeeded, elapsed = await infrence_burst(http, db, key, questions, args.mode)
            cpu = [(b - a) / len(questions) * 1000 for a, b in zip(before, cpu_now(), strict=True)]
            if sampler:  # py-spy writes its samples when interrupted
                sampler.send_signal(signal.SIGINT)
                sampler.wait()
                profile.summarise(raw, f"infrence worker, {len(questions)} jobs")
        await db.close()
        return report(
            f"infrence worker (--concurrency {args.concurrency})",
            len(questions),
            succeeded,
            elapsed,
            f"worker {cpu[0]:.0f} ms + API {cpu[1]:.0f} ms + PostgreSQL {cpu[2]:.0f} ms",
        )
    finally:
        if worker:
            stop(worker)
        stop(server)
        shutil.rmtree(data_dir, ignore_errors=True)


async def langgraph_burst(client, questions: list[str], mode: str) -> tuple[int, float]:
    """Submit every question as a background run on its own thread, then join them all."""
    began = time.perf_counter()

    async def submit(question: str) -> tuple[str, str]:
        thread = await client.threads.create()
        run = await client.runs.create(
            thread["thread_id"], "research", input={"question": question, "mode": mode}
        )
        return thread["thread_id"], run["run_id"]

    runs = await asyncio.gather(*(submit(q) for q in questions))
    finals = await asyncio.gather(*(client.runs.join(thread_id, run_id) for thread_id, run_id in runs))
    elapsed = time.perf_counter() - began
    return sum(1 for final in finals if isinstance(final, dict) and final.get("brief")), elapsed


def start_langgraph(port: int, concurrency: int, env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "langgraph_cli",
            "dev",
            "--no-browser",
            "--no-reload",
            "--port",
            str(port),
            "--n-jobs-per-worker",
            str(concurrency),
        ],
        cwd=REPO,
        env=env,
        stdout=open(log, "wb"),
        stderr=subprocess.STDOUT,
    )


async def bench_langgraph(args: argparse.Namespace, questions: list[str]) -> float:
    from langgraph_sdk import get_client

    data_dir = Path(tempfile.mkdtemp(prefix="infrence-bench-langgraph-"))
    port = free_port()
    server = start_langgraph(port, args.concurrency, offline_env(data_dir), data_dir / "langgraph.log")
    try:
        url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient() as http:
            for _ in range(450):
                if server.poll() is not None:
                    raise SystemExit(f"langgraph dev exited:\n{(data_dir / 'langgraph.log').read_text()}")
                try:
                    if (await http.get(url + "/ok", timeout=1)).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
        client = get_client(url=url, timeout=120)
        await langgraph_burst(client, questions[:1], args.mode)  # warm-up
        cpu = process_cpu_seconds(server.pid)
        succeeded, elapsed = await langgraph_burst(client, questions, args.mode)
        cpu = (process_cpu_seconds(server.pid) - cpu) / len(questions) * 1000
        return report(
            f"langgraph dev (--n-jobs-per-worker {args.concurrency})",
            len(questions),
            succeeded,
            elapsed,
            f"server {cpu:.0f} ms",
        )
    finally:
        stop(server)
        shutil.rmtree(data_dir, ignore_errors=True)


async def main(args: argparse.Namespace) -> None:
    questions = [QUESTIONS[i % len(QUESTIONS)] for i in range(args.jobs)]
    print(
        f"bench/throughput.py on {os.cpu_count()} cores: {args.jobs} {args.mode} jobs, offline reasoner "
        f"and built-in corpus, load average {os.getloadavg()[0]:.2f}"
    )
    ours = await bench_infrence(args, questions)
    if args.profile:
        return
    theirs = await bench_langgraph(args, questions)
    print(f"  ratio infrence / langgraph dev: {ours / theirs:.2f}x jobs/min")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=60)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--mode", default="lite", choices=MODE_NAMES)
    parser.add_argument(
        "--profile", metavar="DIR", help="py-spy the worker during the burst into DIR/worker.txt (ours only)"
    )
    asyncio.run(main(parser.parse_args()))
