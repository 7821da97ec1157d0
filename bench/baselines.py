"""Bare baselines for the job and ledger figures, each measured in the same run as Infrence's
(prints figures, never asserts).

    uv run python -m bench.baselines [--creates 600] [--concurrency 32] [--subscribers 500]
                                     [--events 300] [--event-interval 0.1] [--clients 50] [--pool 20]
                                     [--seconds 10]

(`--creates 0`, `--subscribers 0` or `--clients 0` leaves that comparison out.)

  creates/s    `bench/jobs.py`'s create client (same code, same concurrency) against
               `infrence serve` and against `bare`: one FastAPI route under uvicorn, one process,
               inserting one row into a one-table database on the same embedded PostgreSQL in one
               transaction and NOTIFYing.
  SSE fan-out  the same N subscribers, read by the same code, first all subscribed, then the same
               events at the same pace: `bench/jobs.py`'s fan-out appends them to a queued job's
               Redis stream (as the worker does; no worker runs the job) for Infrence's SSE, and
               `bare`'s SSE endpoint broadcasts them through in-memory asyncio queues. Delay =
               receive time minus the timestamp in the event id; only events sent after every
               subscriber is attached count.
  ledger       `bench/ledger.py`'s "own accounts" pairs against raw psycopg pairs (a conditional
               `UPDATE credit_accounts ... - 15`, then `+ 15`, autocommit, no ledger rows) on the
               same pool, same clients, same accounts: the floor of two committed writes. A third
               row, "same rows", writes by hand what the ledger's rules ask of a pair and no more:
               each step one statement that moves the balance and appends its ledger row with its
               idempotency key (no bucket split, no replay check): the floor of the rules.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from psycopg.conninfo import make_conninfo

from bench import jobs, ledger
from bench.http_credits import process_cpu_seconds
from bench.ledger import postgres_cpu_seconds
from core.db import Database
from core.storage import embedded_postgres_url, embedded_redis_url
from ledger import LedgerService


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Same pool wrapper and size as `infrence serve` in this bench (INFRENCE_DB_POOL_MAX=40)."""
    app.state.db = Database(os.environ["BARE_DATABASE_URL"], min_size=2, max_size=40)
    await app.state.db.open()
    yield
    await app.state.db.close()


bare = FastAPI(lifespan=lifespan)
subscribers: list[asyncio.Queue[str | None]] = []


@bare.get("/healthz")
async def healthz() -> dict:
    return {"status": "ok"}


@bare.post("/v1/research", status_code=202)
async def create(body: dict) -> dict:
    """The create baseline: one row and one NOTIFY in one transaction, no auth, no credits."""
    async with bare.state.db.transaction() as tx:
        cur = await tx.execute(
            "INSERT INTO jobs (question, mode) VALUES (%s, %s) RETURNING id", (body["question"], body["mode"])
        )
        job_id = (await cur.fetchone())["id"]
        await tx.execute("SELECT pg_notify('jobs', %s)", (str(job_id),))
    return {"id": job_id}


@bare.get("/events")
async def events() -> StreamingResponse:
    """The fan-out baseline: one in-memory queue per subscriber."""
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    subscribers.append(queue)

    async def stream() -> AsyncIterator[str]:
        yield ": subscribed\n\n"
        while (frame := await queue.get()) is not None:
            yield frame

    return StreamingResponse(stream(), media_type="text/event-stream")


@bare.post("/publish")
async def publish(count: int, interval: float) -> dict:
    """Broadcast `count` events `interval` s apart; the id carries the publish time in ms, as a
    Redis stream id does, and the last event is the terminal one the subscribers stop on."""

    async def broadcast() -> None:
        for i in range(count):
            name = "job.succeeded" if i == count - 1 else "progress"
            frame = f'id: {int(time.time() * 1000)}-0\nevent: {name}\ndata: {{"seq": {i}}}\n\n'
            for queue in subscribers:
                queue.put_nowait(frame)
            await asyncio.sleep(interval)
        for queue in subscribers:
            queue.put_nowait(None)
        subscribers.clear()

    bare.state.broadcast = asyncio.create_task(broadcast())  # keep a reference until it ends
    return {"subscribers": len(subscribers)}


@contextlib.contextmanager
def captured(figure: str) -> Iterator[dict[str, float]]:
    """bench/jobs.py prints its figures: keep its line as printed and parse the numbers back."""
    out: dict[str, float] = {}
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        yield out
    text = buffer.getvalue().rstrip("\n")
    print(f"  {figure:<9} {text}")
    out.update({k: float(v) for k, v in re.findall(r"(p50|p99|creates/s)\s+([\d.]+)", text)})


def cpu_seconds(pid: int, postmaster_pid: int) -> tuple[float, float]:
    return process_cpu_seconds(pid), postgres_cpu_seconds(postmaster_pid)


def print_cpu(
    name: str, since: tuple[float, float], pid: int, postmaster_pid: int, count: int, unit: str = "create"
) -> None:
    """CPU per create (or delivery) of the server process and of PostgreSQL: on a shared machine
    that says where the time goes better than rates alone."""
    server, postgres = (now - then for now, then in zip(cpu_seconds(pid, postmaster_pid), since, strict=True))
    print(
        f"  {name:<9} CPU per {unit}: server {server / count * 1000:.3f} ms"
        f" + PostgreSQL {postgres / count * 1000:.3f} ms"
    )


async def bare_fanout(base: str, args: argparse.Namespace) -> None:
    limits = httpx.Limits(
        max_connections=args.subscribers + 10, max_keepalive_connections=args.subscribers + 10
    )
    async with httpx.AsyncClient(base_url=base, timeout=300, limits=limits) as http:
        delays: list[float] = []
        ready: list[int] = []
        tasks = [
            asyncio.create_task(jobs.subscriber(http, "/events", {}, delays, ready))
            for _ in range(args.subscribers)
        ]
        await jobs.attached(tasks, ready, args.subscribers)
        await http.post("/publish", params={"count": args.events, "interval": args.event_interval})
        await asyncio.gather(*tasks)
    print(jobs.fanout_line(delays, args.subscribers))


async def compare_creates(
    args: argparse.Namespace, api: str, base: str, key: dict, db: Database, pids: tuple[int, int, int]
) -> None:
    server, baseline, postmaster = pids
    limits = httpx.Limits(max_connections=args.concurrency + 4)
    async with httpx.AsyncClient(base_url=api, timeout=120, limits=limits) as http:
        with contextlib.redirect_stdout(io.StringIO()):  # warm-up, as below
            await jobs.measure_creates(http, key, 10, args.concurrency)
        since = cpu_seconds(server, postmaster)
        with captured("infrence") as ours:
            await jobs.measure_creates(http, key, args.creates, args.concurrency)
        print_cpu("infrence", since, server, postmaster, args.creates)
    async with db.connection() as conn:  # no worker ran: nothing would start the queued jobs
        await conn.execute(
            "UPDATE research_jobs SET status = 'canceled', completed_at = now() WHERE status = 'queued'"
        )
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as http:
        with contextlib.redirect_stdout(io.StringIO()):
            await jobs.measure_creates(http, key, 10, args.concurrency)
        since = cpu_seconds(baseline, postmaster)
        with captured("bare") as theirs:
            await jobs.measure_creates(http, key, args.creates, args.concurrency)
        print_cpu("bare", since, baseline, postmaster, args.creates)
    print(
        f"  ratio infrence / bare: creates/s {ours['creates/s'] / theirs['creates/s']:.2f}x   "
        f"p99 {ours['p99'] / theirs['p99']:.2f}x"
    )


async def compare_fanout(
    args: argparse.Namespace, api: str, base: str, key: dict, data_dir: Path, pids: tuple[int, int, int]
) -> None:
    server, baseline, postmaster = pids
    deliveries = args.subscribers * args.events
    since = cpu_seconds(server, postmaster)
    with captured("infrence") as ours:
        await jobs.measure_fanout(
            api, key, args.subscribers, embedded_redis_url(data_dir), args.events, args.event_interval
        )
    print_cpu("infrence", since, server, postmaster, deliveries, "delivery (subscribing included)")
    since = cpu_seconds(baseline, postmaster)
    with captured("bare") as theirs:
        await bare_fanout(base, args)
    print_cpu("bare", since, baseline, postmaster, deliveries, "delivery (subscribing included)")
    print(
        f"  ratio infrence / bare: fan-out p99 {ours['p99'] / theirs['p99']:.2f}x   "
        f"p50 {ours['p50'] / theirs['p50']:.2f}x"
    )


async def http_baselines(args: argparse.Namespace, data_dir: Path, env: dict[str, str]) -> None:
    port, bare_port = jobs.free_port(), jobs.free_port()
    api, base = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{bare_port}"
    server = jobs.start(["serve", "--port", str(port), "--workers", "0"], env, data_dir / "serve.log")
    baseline = None
    try:
        await jobs.wait_healthy(api)
        url = embedded_postgres_url(data_dir)  # joins the server's embedded PostgreSQL
        db = Database(url, min_size=1, max_size=4)
        await db.open()
        async with db.connection() as conn:
            await conn.execute("CREATE DATABASE bare")
        bare_url = make_conninfo(url, dbname="bare")
        bare_db = Database(bare_url, min_size=1, max_size=1)
        await bare_db.open()
        async with bare_db.connection() as conn:
            await conn.execute(
                "CREATE TABLE jobs (id bigserial PRIMARY KEY, question text NOT NULL,"
                " mode text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
            )
        await bare_db.close()
        baseline = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "bench.baselines:bare", "--port", str(bare_port)],
            cwd=jobs.REPO,
            env={**env, "BARE_DATABASE_URL": bare_url},
            stdout=open(data_dir / "bare.log", "wb"),  # noqa: SIM115 (the child owns it)
            stderr=subprocess.STDOUT,
        )
        await jobs.wait_healthy(base)
        async with httpx.AsyncClient(base_url=api, timeout=120) as http:
            key = await jobs.open_funded_account(http, db, 15 * (args.creates + 10) + 1000)
        postmaster = int((data_dir / "pg" / "postmaster.pid").read_text().split()[0])
        if args.creates:
            await compare_creates(args, api, base, key, db, (server.pid, baseline.pid, postmaster))
        if args.subscribers:
            await compare_fanout(args, api, base, key, data_dir, (server.pid, baseline.pid, postmaster))
        await db.close()
    finally:
        if baseline:
            jobs.stop(baseline)
        jobs.stop(server)


async def raw_pair(_ledger: LedgerService, db: Database, user: uuid.UUID) -> None:
    """Two committed conditional writes on the balance, nothing else."""
    async with db.connection() as conn:
        cur = await conn.execute(
            "UPDATE credit_accounts SET balance = balance - %s WHERE user_id = %s AND balance >= %s",
            (ledger.CREDITS, user, ledger.CREDITS),
        )
        if cur.rowcount != 1:
            raise SystemExit("raw reserve found no funds")
    async with db.connection() as conn:
        await conn.execute(
            "UPDATE credit_accounts SET balance = balance + %s WHERE user_id = %s", (ledger.CREDITS, user)
        )


# One balance move and its ledger row, in one statement (what the ledger's rules require of
# each step, without the bucket split and replay check that `ledger/repository.py` adds).
MOVE_AND_APPEND_SQL = """
WITH account AS (
    UPDATE credit_accounts SET balance = balance + %(delta)s
    WHERE user_id = %(user_id)s AND balance + %(delta)s >= 0 RETURNING user_id, balance
)
INSERT INTO credit_ledger (user_id, delta, balance_after, kind, related_id, idempotency_key)
SELECT user_id, %(delta)s, balance, %(kind)s, %(job)s, %(key)s FROM account
"""


async def same_rows_pair(_ledger: LedgerService, db: Database, user: uuid.UUID) -> None:
    """The rows a pair must write (the balance twice, two keyed ledger rows), by hand."""
    job = str(uuid.uuid4())
    for delta, kind in ((-ledger.CREDITS, "reserve"), (ledger.CREDITS, "release")):
        async with db.connection() as conn:
            cur = await conn.execute(
                MOVE_AND_APPEND_SQL,
                {"delta": delta, "user_id": user, "kind": kind, "job": job, "key": f"job:{job}:{kind}"},
            )
            if cur.rowcount != 1:
                raise SystemExit("same-rows reserve found no funds")


async def ledger_baseline(args: argparse.Namespace, data_dir: Path) -> None:
    async with ledger.funded_ledger(data_dir, args.pool, args.clients) as (db, service, own):
        rates = {}
        for name, pair in (("infrence", ledger.plain_pair), ("raw", raw_pair), ("same rows", same_rows_pair)):
            await ledger.run(db, service, own, pair, args.clients, 1.0)  # warm-up
            measured = await ledger.measure(data_dir, db, service, own, pair, args.clients, args.seconds)
            rates[name] = measured.per_second
            print(f"  {name:<9} {measured}")
        print(f"  ratio infrence / raw: pairs/s {rates['infrence'] / rates['raw']:.2f}x")
        print(f"  ratio infrence / same rows: pairs/s {rates['infrence'] / rates['same rows']:.2f}x")


async def main(args: argparse.Namespace) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="infrence-bench-baselines-"))
    data_dir.chmod(0o755)  # pgserver drops root to its own user, which must enter the dir
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "OPENAI_API_KEY", "TAVILY_API_KEY")
    }
    env.update(
        {
            "INFRENCE_DATA_DIR": str(data_dir),
            "INFRENCE_RESEARCH_CREATES_PER_MINUTE": "1000000",
            "INFRENCE_DB_POOL_MAX": "40",
            "INFRENCE_MAX_STREAMS_PER_USER": str(args.subscribers + 10),  # the fan-out's one account
        }
    )
    for sub in ("http", "ledger"):
        (data_dir / sub).mkdir(mode=0o755)
    try:
        print(
            f"bench/baselines.py on {os.cpu_count()} cores, embedded PostgreSQL + Redis, "
            f"load average {os.getloadavg()[0]:.2f}"
        )
        print(
            f"creates: {args.creates} each, {args.concurrency} clients; fan-out: {args.subscribers} subscribers"
            f" (bare: {args.events} events {args.event_interval:g}s apart)"
        )
        if args.creates or args.subscribers:
            await http_baselines(args, data_dir / "http", env | {"INFRENCE_DATA_DIR": str(data_dir / "http")})
        if args.clients:
            print(
                f"ledger: {args.clients} clients, pool {args.pool}, {args.seconds:g}s each, {args.clients} accounts"
            )
            await ledger_baseline(args, data_dir / "ledger")
        print(f"  load average {os.getloadavg()[0]:.2f}")
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--creates", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--subscribers", type=int, default=500)
    parser.add_argument("--events", type=int, default=300)  # with 30, one late event set the p99
    parser.add_argument("--event-interval", type=float, default=0.1)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--pool", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0)
    asyncio.run(main(parser.parse_args()))
