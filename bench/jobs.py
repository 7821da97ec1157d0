"""Research job figures over a real `infrence serve` on TCP (prints, never asserts).

    uv run python bench/jobs.py [--creates 600] [--concurrency 32] [--latency-jobs 30] [--subscribers 500]

Starts the API (no in-process workers) on embedded storage in a temp dir, then measures:
  creates/s        async lite creates from one API key (job row + reservation + NOTIFY each)
  POST→started     with one `infrence worker` running, from POST to the job.started SSE event
  SSE fan-out      N subscribers on one queued job, then 300 events 0.1 s apart appended to its
                   stream; per-event delivery delay = receive time minus the Redis stream id's
                   timestamp (same machine clock)
Research runs on the offline reasoner and the built-in corpus: instant fakes, no network.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

from redis.asyncio import Redis  # noqa: E402

from api.research.events import JobEvents  # noqa: E402
from core.db import Database  # noqa: E402
from core.storage import embedded_postgres_url, embedded_redis_url  # noqa: E402
from tests.accounts import grant_credits  # noqa: E402


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "api.cli", *args],
        cwd=REPO,
        env=env,
        stdout=open(log, "wb"),
        stderr=subprocess.STDOUT,
    )


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


async def wait_healthy(base: str, timeout_secs: float = 180.0) -> None:
    """A loaded 2-core machine can take minutes to start a server (imports, embedded storage)."""
    async with httpx.AsyncClient() as http:
        for _ in range(int(timeout_secs / 0.2)):
            try:
                if (await http.get(base + "/healthz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit("server did not become healthy")


async def open_funded_account(http: httpx.AsyncClient, db: Database, credits: int) -> dict[str, str]:
    signup = (
        await http.post(
            "/api/auth/signup",
            json={"email": f"bench-{time.time_ns()}@example.com", "password": "correct horse battery staple"},
        )
    ).json()
    jwt = {"Authorization": f"Bearer {signup['access_token']}"}
    key = (await http.post("/api/keys", json={"name": "bench"}, headers=jwt)).json()["plaintext"]
    await grant_credits(db, signup["user"]["id"], credits)
    return {"Authorization": f"Bearer {key}"}


async def funded_key(api: str, data_dir: Path, credits: int) -> dict[str, str]:
    """The API key header of a new account on the server at `api` (embedded storage in
    `data_dir`), granted `credits`."""
    db = Database(embedded_postgres_url(data_dir), min_size=1, max_size=2)
    await db.open()
    try:
        async with httpx.AsyncClient(base_url=api, timeout=120) as http:
            return await open_funded_account(http, db, credits)
    finally:
        await db.close()


async def measure_creates(http: httpx.AsyncClient, key: dict, total: int, concurrency: int) -> None:
    latencies: list[float] = []
    queue = iter(range(total))

    async def client() -> None:
        for i in queue:
            began = time.perf_counter()
            response = await http.post(
                "/v1/research",
                headers=key,
                json={"question": f"bench question {i}", "mode": "lite", "async": True},
            )
            latencies.append(time.perf_counter() - began)
            if response.status_code != 202:
                raise SystemExit(f"create failed: {response.status_code} {response.text}")

    began = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    elapsed = time.perf_counter() - began
    print(
        f"creates/s            {total / elapsed:8.1f}   ({total} creates, {concurrency} clients, "
        f"p50 {percentile(latencies, 0.5) * 1000:.1f} ms, p99 {percentile(latencies, 0.99) * 1000:.1f} ms)"
    )


async def first_event(http: httpx.AsyncClient, url: str, key: dict, wanted: str) -> float:
    async with http.stream("GET", url, headers=key) as response:
        async for line in response.aiter_lines():
            if line == f"event: {wanted}":
                return time.perf_counter()
    raise RuntimeError(f"stream ended without {wanted}")


async def measure_start_latency(http: httpx.AsyncClient, key: dict, jobs: int) -> None:
    latencies = []
    for i in range(jobs):
        began = time.perf_counter()
        accepted = (
            await http.post(
                "/v1/research",
                headers=key,
                json={"question": f"latency probe {i}", "mode": "lite", "async": True},
            )
        ).json()
        started = await first_event(http, accepted["events_url"], key, "job.started")
        latencies.append(started - began)
    print(
        f"POST→job.started     p50 {percentile(latencies, 0.5) * 1000:6.1f} ms   "
        f"p99 {percentile(latencies, 0.99) * 1000:6.1f} ms   ({jobs} jobs, one worker)"
    )


async def subscriber(http: httpx.AsyncClient, url: str, key: dict, delays: list[float], ready: list) -> None:
    """One SSE client. It counts as ready once the server has subscribed it — its first event or
    comment after subscribing (Infrence's backlog `job.queued`, bare's `: subscribed`) — and
    records the delay of every event after that, so only live deliveries are counted."""
    async with http.stream("GET", url, headers=key) as response:
        if response.status_code != 200:
            raise SystemExit(f"subscriber refused: {response.status_code} {(await response.aread())[:200]!r}")
        subscribed = False
        async for line in response.aiter_lines():
            if not subscribed:
                if line.startswith("id: ") or line == ": subscribed":
                    subscribed = True
                    ready.append(1)
            elif line.startswith("id: "):
                stream_ms = int(line[4:].split("-")[0])
                delays.append(time.time() - stream_ms / 1000)
            elif line.startswith("event: job.") and line[11:] in ("succeeded", "failed", "canceled"):
                return


async def attached(tasks: list[asyncio.Task], ready: list, subscribers: int) -> None:
    """Wait until every subscriber is subscribed (a failed one stops the bench)."""
    while len(ready) < subscribers:
        if failed := next((t for t in tasks if t.done() and t.exception()), None):
            raise failed.exception()  # type: ignore[misc]
        await asyncio.sleep(0.05)


def fanout_line(delays: list[float], subscribers: int) -> str:
    return (
        f"SSE fan-out          p50 {percentile(delays, 0.5) * 1000:6.1f} ms   "
        f"p99 {percentile(delays, 0.99) * 1000:6.1f} ms   ({subscribers} subscribers, {len(delays)} deliveries)"
    )


async def measure_fanout(
    base: str, key: dict, subscribers: int, redis_url: str, events: int = 300, interval: float = 0.1
) -> None:
    """N subscribers on one queued job (no worker runs it); once all are subscribed, the bench
    appends `events` events `interval` s apart to the job's stream the way the worker does
    (`JobEvents.append`), the last one terminal: the same load as bare's in-memory broadcast."""
    limits = httpx.Limits(max_connections=subscribers + 10, max_keepalive_connections=subscribers + 10)
    redis = Redis.from_url(redis_url, decode_responses=True)
    async with httpx.AsyncClient(base_url=base, timeout=300, limits=limits) as http:
        accepted = (
            await http.post(
                "/v1/research",
                headers=key,
                json={"question": "How do state graphs checkpoint?", "mode": "standard", "async": True},
            )
        ).json()
        delays: list[float] = []
        ready: list[int] = []
        tasks = [
            asyncio.create_task(subscriber(http, accepted["events_url"], key, delays, ready))
            for _ in range(subscribers)
        ]
        await attached(tasks, ready, subscribers)
        stream = JobEvents(redis)
        for i in range(events):
            await stream.append(
                accepted["id"], "job.succeeded" if i == events - 1 else "progress", {"seq": i}
            )
            await asyncio.sleep(interval)
        await asyncio.gather(*tasks)
    await redis.aclose()
    print(fanout_line(delays, subscribers))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--creates", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency-jobs", type=int, default=30)
    parser.add_argument("--subscribers", type=int, default=500)
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="infrence-bench-jobs-"))
    data_dir.chmod(0o755)
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
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start(["serve", "--port", str(port), "--workers", "0"], env, data_dir / "serve.log")
    try:
        await wait_healthy(base)
        db = Database(embedded_postgres_url(data_dir), min_size=1, max_size=4)
        await db.open()
        print(f"bench/jobs.py on {os.cpu_count()} cores, embedded PostgreSQL + Redis, one uvicorn process")
        async with httpx.AsyncClient(
            base_url=base, timeout=120, limits=httpx.Limits(max_connections=args.concurrency + 4)
        ) as http:
            key = await open_funded_account(http, db, 15 * (args.creates + args.latency_jobs) + 1000)
            await measure_creates(http, key, args.creates, args.concurrency)
            async with db.connection() as conn:  # the backlog would only measure queueing
                await conn.execute(
                    "UPDATE research_jobs SET status = 'canceled', completed_at = now()"
                    " WHERE status = 'queued'"
                )
            worker = start(["worker", "--concurrency", "2"], env, data_dir / "worker.log")
            try:
                await asyncio.sleep(3)  # let the worker connect and set up
                await measure_start_latency(http, key, args.latency_jobs)
            finally:
                stop(worker)
        await measure_fanout(base, key, args.subscribers, embedded_redis_url(data_dir))
        await db.close()
    finally:
        stop(server)


if __name__ == "__main__":
    asyncio.run(main())
