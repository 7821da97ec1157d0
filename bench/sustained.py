"""Sustained load: many lite jobs from many clients with an SSE reader on every fifth job, against
`infrence serve` and its research workers, offline (prints figures; exits 1 when the load broke
something).

    uv run python -m bench.sustained [--jobs 1200] [--clients 16] [--read-every 5] [--workers 2]

Each client has its own account and API key and creates its share of the jobs one after the
other, as fast as the API answers; every fifth job it creates also gets a reader that follows
the job's event stream to its terminal event. What must hold at the end: every create accepted
(202), every stream reaching its job's terminal event, every job ended, and the memory of the
API and worker processes flat once warm (resident memory sampled through the run; growth is
reported from when half the jobs had ended to the end, per 1,000 jobs).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import shutil
import tempfile
import time
from pathlib import Path

import httpx

from bench.jobs import free_port, open_funded_account, start, stop, wait_healthy
from bench.throughput import QUESTIONS, offline_env
from core.db import Database
from core.storage import embedded_postgres_url
from graph.modes import MODES

TERMINAL = ("job.succeeded", "job.failed", "job.canceled")


def resident_mib(pid: int) -> float:
    """Resident memory of one process, in MiB (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def workers_of(pid: int) -> list[int]:
    """The research worker processes `serve` supervises (its children running `worker`)."""
    children = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if int(stat[1]) == pid and b"worker" in cmdline:
            children.append(int(entry))
    return children


class Tally:
    """What the load saw: create statuses, stream endings, and memory samples by jobs ended."""

    def __init__(self) -> None:
        self.creates: collections.Counter[int] = collections.Counter()
        self.streams: collections.Counter[str] = collections.Counter()
        self.job_ids: list[str] = []
        self.memory: list[tuple[int, float, float]] = []  # (jobs ended, API MiB, workers MiB)


async def follow(http: httpx.AsyncClient, url: str, key: dict, tally: Tally) -> None:
    """Read one job's stream to its terminal event; anything else counts as a failed stream."""
    try:
        async with http.stream("GET", url, headers=key) as response:
            if response.status_code != 200:
                tally.streams[f"refused {response.status_code}"] += 1
                return
            async for line in response.aiter_lines():
                if line.startswith("event: ") and line[7:] in TERMINAL:
                    tally.streams["reached its terminal event"] += 1
                    return
        tally.streams["ended before its terminal event"] += 1
    except httpx.HTTPError as exc:
        tally.streams[f"broke ({type(exc).__name__})"] += 1


async def client(
    http: httpx.AsyncClient, key: dict, jobs: int, read_every: int, tally: Tally, readers: list[asyncio.Task]
) -> None:
    for i in range(jobs):
        response = await http.post(
            "/v1/research",
            headers=key,
            json={"question": QUESTIONS[i % len(QUESTIONS)], "mode": "lite", "async": True},
        )
        tally.creates[response.status_code] += 1
        if response.status_code != 202:
            continue
        accepted = response.json()
        tally.job_ids.append(accepted["id"])
        if i % read_every == 0:
            readers.append(asyncio.create_task(follow(http, accepted["events_url"], key, tally)))


async def sample_memory(db: Database, server_pid: int, tally: Tally, stop_sampling: asyncio.Event) -> None:
    while not stop_sampling.is_set():
        async with db.connection() as conn:
            cur = await conn.execute("SELECT count(*) AS n FROM research_jobs WHERE completed_at IS NOT NULL")
            jobs_ended = (await cur.fetchone())["n"]
        workers = sum(resident_mib(pid) for pid in workers_of(server_pid))
        tally.memory.append((jobs_ended, resident_mib(server_pid), workers))
        try:
            await asyncio.wait_for(stop_sampling.wait(), 0.5)
        except TimeoutError:
            pass


async def ended(db: Database, job_ids: list[str]) -> collections.Counter[str]:
    async with db.connection() as conn:
        cur = await conn.execute(
            "SELECT status, count(*) AS n FROM research_jobs WHERE id = ANY(%s::uuid[]) GROUP BY status",
            (job_ids,),
        )
        return collections.Counter({row["status"]: row["n"] for row in await cur.fetchall()})


async def wait_all_ended(db: Database, job_ids: list[str], timeout_secs: float) -> collections.Counter[str]:
    deadline = time.monotonic() + timeout_secs
    while True:
        statuses = await ended(db, job_ids)
        live = sum(n for status, n in statuses.items() if status in ("queued", "running"))
        if not live or time.monotonic() > deadline:
            return statuses
        await asyncio.sleep(0.5)


def memory_lines(tally: Tally, total_jobs: int) -> list[str]:
    """Resident memory when a quarter, half and all of the jobs had ended; growth from half to
    the end per 1,000 jobs (the first half warms caches and pools)."""
    samples = tally.memory
    if not samples:
        return ["  memory: no samples"]

    def at(share: float) -> tuple[int, float, float]:
        wanted = share * total_jobs
        return next((s for s in samples if s[0] >= wanted), samples[-1])

    lines = []
    for label, sample in (("25% ended", at(0.25)), ("50% ended", at(0.5)), ("all ended", samples[-1])):
        lines.append(f"  memory at {label:<10} API {sample[1]:7.1f} MiB   workers {sample[2]:7.1f} MiB")
    middle, last = at(0.5), samples[-1]
    jobs_between = max(1, total_jobs - middle[0])
    for name, index in (("API", 1), ("workers", 2)):
        growth = (last[index] - middle[index]) / jobs_between * 1000
        lines.append(f"  memory growth, half-way to the end, {name:<7} {growth:+7.1f} MiB per 1,000 jobs")
    return lines


async def main(args: argparse.Namespace) -> int:
    data_dir = Path(tempfile.mkdtemp(prefix="infrence-bench-sustained-"))
    data_dir.chmod(0o755)  # pgserver drops root to its own user, which must enter the dir
    env = offline_env(data_dir) | {
        "INFRENCE_SIGNUPS_PER_IP_PER_HOUR": str(args.clients + 10)
    }  # one IP signs all up
    port = free_port()
    server = start(
        ["serve", "--port", str(port), "--workers", str(args.workers)], env, data_dir / "serve.log"
    )
    try:
        await wait_healthy(f"http://127.0.0.1:{port}")
        db = Database(embedded_postgres_url(data_dir), min_size=1, max_size=2)
        await db.open()
        per_client = args.jobs // args.clients
        total = per_client * args.clients
        tally, readers = Tally(), []
        limits = httpx.Limits(max_connections=args.clients + total // args.read_every + 10)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=300, limits=limits) as http:
            credits = MODES["lite"].price_credits * (per_client + 5)
            keys = [await open_funded_account(http, db, credits) for _ in range(args.clients)]
            print(
                f"bench/sustained.py on {os.cpu_count()} cores: {total} lite jobs from {args.clients} clients, "
                f"a reader on one job in {args.read_every}, {args.workers} worker processes, "
                f"load average {os.getloadavg()[0]:.2f}"
            )
            stop_sampling = asyncio.Event()
            sampler = asyncio.create_task(sample_memory(db, server.pid, tally, stop_sampling))
            began = time.perf_counter()
            await asyncio.gather(
                *(client(http, key, per_client, args.read_every, tally, readers) for key in keys)
            )
            created_in = time.perf_counter() - began
            statuses = await wait_all_ended(db, tally.job_ids, args.timeout)
            ended_in = time.perf_counter() - began
            await asyncio.wait_for(asyncio.gather(*readers), args.timeout)
            stop_sampling.set()
            await sampler
        await db.close()
    finally:
        stop(server)
        shutil.rmtree(data_dir, ignore_errors=True)

    accepted = tally.creates[202]
    reached = tally.streams["reached its terminal event"]
    finished = sum(n for status, n in statuses.items() if status not in ("queued", "running"))
    print(
        f"  creates: {accepted} of {total} accepted in {created_in:.1f} s   ({dict(sorted(tally.creates.items()))})"
    )
    print(f"  streams: {reached} of {len(readers)} reached their terminal event   ({dict(tally.streams)})")
    print(f"  jobs:    {finished} of {accepted} ended in {ended_in:.1f} s   ({dict(statuses)})")
    for line in memory_lines(tally, total):
        print(line)
    held = accepted == total and reached == len(readers) and finished == accepted
    print(f"  {'held' if held else 'BROKE'}: every create accepted, every stream terminal, every job ended")
    return 0 if held else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1200)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--read-every", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for every job to end")
    raise SystemExit(asyncio.run(main(parser.parse_args())))
