"""Authenticated `GET /v1/credits` against a bare FastAPI endpoint, same load generator, same run
(prints figures, never asserts).

    uv run python -m bench.http_credits [--seconds 10] [--connections 32]

Starts `infrence serve --workers 0` (uvicorn, one process, embedded PostgreSQL + Redis in a temp
dir) and, beside it, a one-route FastAPI app under uvicorn that answers a constant JSON. Each
gets a short warm-up, then one bounded `wrk` run (one thread, fixed connections) with the same
API key header; the figures and their ratio are printed. Needs Debian's `wrk`
(`apt-get install -y wrk`).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from psycopg_pool import AsyncConnectionPool

from bench.jobs import REPO, free_port, funded_key, start, stop, wait_healthy
from bench.ledger import postgres_cpu_seconds
from core.storage import embedded_postgres_url

bare = FastAPI()


@bare.get("/v1/credits")
async def constant_balance() -> dict:
    """The baseline: FastAPI and uvicorn with no auth, no database, no middleware."""
    return {"credits": 1000, "usd": "10.00"}


@bare.get("/healthz")
async def healthz() -> dict:
    return {"status": "ok"}


@asynccontextmanager
async def _pool_lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.pool = AsyncConnectionPool(os.environ["BARE_DATABASE_URL"], min_size=2, max_size=20, open=False)
    await app.state.pool.open()
    yield
    await app.state.pool.close()


bare_db = FastAPI(lifespan=_pool_lifespan)


@bare_db.get("/v1/credits")
async def balance_by_key(request: Request) -> dict:
    """The fair baseline: the two round trips such a read needs (key owner, then balance) on a
    psycopg pool, with no middleware, no logging context and no error mapping."""
    token = request.headers.get("authorization", "").removeprefix("Bearer ")
    digest = hashlib.sha256(token.encode()).digest()
    async with request.app.state.pool.connection() as conn:
        owner = await (
            await conn.execute(
                "SELECT u.id FROM api_keys k JOIN users u ON u.id = k.user_id "
                "WHERE k.key_hash = %s AND k.revoked_at IS NULL",
                (digest,),
            )
        ).fetchone()
        if owner is None:
            return JSONResponse({"detail": "no such key"}, status_code=401)
        (balance,) = await (
            await conn.execute("SELECT balance FROM credit_accounts WHERE user_id = %s", owner)
        ).fetchone()
    return {"credits": balance, "usd": f"{balance / 100:.2f}"}


@bare_db.get("/healthz")
async def healthz_db() -> dict:
    return {"status": "ok"}


@dataclass
class Figures:
    requests_per_sec: float
    p50_ms: float
    p99_ms: float
    requests: int
    failures: int


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of one process so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(url: str, headers: dict[str, str], seconds: float, connections: int) -> Figures:
    """One bounded wrk run; non-2xx answers and socket errors count as failures."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", "--timeout", "10s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run(
        [*command, url], capture_output=True, text=True, check=True, timeout=seconds + 30
    ).stdout

    def latency(share: str) -> float:
        value, unit = re.search(rf"^\s+{share}%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE).groups()
        return float(value) * UNITS_MS[unit]

    failed = r"(?:Non-2xx or 3xx responses:|connect|read|write|timeout) (\d+)"
    failures = sum(int(n) for n in re.findall(failed, out))
    return Figures(
        requests_per_sec=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        p50_ms=latency("50"),
        p99_ms=latency("99"),
        requests=int(re.search(r"(\d+) requests in", out).group(1)),
        failures=failures,
    )


def start_bare(port: int, env: dict[str, str], log: Path, app: str = "bare") -> subprocess.Popen:
    """A baseline under uvicorn's own CLI: one process, access log on, as `infrence serve` has."""
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", f"bench.http_credits:{app}", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=open(log, "wb"),
        stderr=subprocess.STDOUT,
    )


def measure(
    name: str,
    url: str,
    headers: dict[str, str],
    args: argparse.Namespace,
    server_pid: int,
    postmaster_pid: int | None = None,
) -> Figures:
    """Besides wrk's figures, CPU per request of the server process and of PostgreSQL: on a
    shared 2-core machine that says where the time goes better than req/s alone."""
    wrk(url, headers, 2, args.connections)  # warm-up: pool connections, caches, code paths
    server_cpu = process_cpu_seconds(server_pid)
    postgres_cpu = postgres_cpu_seconds(postmaster_pid) if postmaster_pid else 0.0
    figures = wrk(url, headers, args.seconds, args.connections)
    server_cpu = (process_cpu_seconds(server_pid) - server_cpu) / figures.requests * 1000
    cpu = f"CPU per request: server {server_cpu:.2f} ms"
    if postmaster_pid:
        postgres_cpu = (postgres_cpu_seconds(postmaster_pid) - postgres_cpu) / figures.requests * 1000
        cpu += f" + PostgreSQL {postgres_cpu:.2f} ms"
    print(
        f"  {name:<34} {figures.requests_per_sec:8.0f} req/s   p50 {figures.p50_ms:6.2f} ms   "
        f"p99 {figures.p99_ms:6.2f} ms   ({figures.requests} requests, {figures.failures} failures; {cpu})"
    )
    return figures


async def main(args: argparse.Namespace) -> None:
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    data_dir = Path(tempfile.mkdtemp(prefix="infrence-bench-http-"))
    data_dir.chmod(0o755)  # pgserver drops root to its own user, which must enter the dir
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["INFRENCE_DATA_DIR"] = str(data_dir)
    api_port, bare_port, bare_db_port = free_port(), free_port(), free_port()
    server = start(["serve", "--port", str(api_port), "--workers", "0"], env, data_dir / "serve.log")
    baseline = start_bare(bare_port, env, data_dir / "bare.log")
    baseline_db: subprocess.Popen | None = None
    try:
        api, base = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{bare_port}"
        await wait_healthy(api)
        await wait_healthy(base)
        db_env = {**env, "BARE_DATABASE_URL": embedded_postgres_url(data_dir)}
        baseline_db = start_bare(bare_db_port, db_env, data_dir / "bare-db.log", app="bare_db")
        base_db = f"http://127.0.0.1:{bare_db_port}"
        await wait_healthy(base_db)
        key = await funded_key(api, data_dir, 1000)
        print(
            f"bench/http_credits.py on {os.cpu_count()} cores: wrk -t1 -c{args.connections} "
            f"-d{args.seconds:g}s, "
            f"one uvicorn process each, load average {os.getloadavg()[0]:.2f}"
        )
        postmaster = int((data_dir / "pg" / "postmaster.pid").read_text().split()[0])
        ours = measure(
            "infrence GET /v1/credits (API key)", api + "/v1/credits", key, args, server.pid, postmaster
        )
        fair = measure(
            "bare FastAPI + pool, 2 round trips",
            base_db + "/v1/credits",
            key,
            args,
            baseline_db.pid,
            postmaster,
        )
        theirs = measure("bare FastAPI constant JSON", base + "/v1/credits", key, args, baseline.pid)
        for label, other in (("bare + 2 round trips", fair), ("bare constant JSON", theirs)):
            print(
                f"  ratio infrence / {label}: req/s {ours.requests_per_sec / other.requests_per_sec:.2f}x"
                f"   p99 {ours.p99_ms / other.p99_ms:.2f}x"
            )
    finally:
        if baseline_db is not None:
            stop(baseline_db)
        stop(baseline)
        stop(server)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    asyncio.run(main(parser.parse_args()))
