"""Ledger throughput: reserve+release pairs per second with N concurrent clients.

Not a test: it prints figures. Starts an embedded PostgreSQL in a temp dir (as the tests do),
applies the migrations and drives `LedgerService` through one process's pool.

    uv run python bench/ledger.py [--clients 50] [--seconds 10] [--pool 20]

Scenarios:
  own accounts     each client reserves and releases on its own account (the common case)
  one account      all clients on one account (worst case: every posting waits on one row lock)
  in a transaction reserve inside a caller's transaction (the job-submission path: a savepoint)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

from core.db import Database  # noqa: E402
from core.migrate import apply_migrations  # noqa: E402
from core.storage import embedded_postgres_url  # noqa: E402
from ledger import LedgerService  # noqa: E402

CREDITS = 15
Pair = Callable[[LedgerService, Database, uuid.UUID], Awaitable[None]]


async def plain_pair(ledger: LedgerService, _db: Database, user: uuid.UUID) -> None:
    job = uuid.uuid4()
    await ledger.reserve(user, CREDITS, idempotency_key=f"job:{job}:reserve", related_id=job)
    await ledger.settle(user, reserved=CREDITS, charged=0, job_id=job)


async def transactional_pair(ledger: LedgerService, db: Database, user: uuid.UUID) -> None:
    job = uuid.uuid4()
    async with db.transaction() as tx:
        await ledger.reserve(user, CREDITS, idempotency_key=f"job:{job}:reserve", related_id=job, tx=tx)
    await ledger.settle(user, reserved=CREDITS, charged=0, job_id=job)


async def create_users(db: Database, ledger: LedgerService, count: int) -> list[uuid.UUID]:
    users = []
    async with db.connection() as conn:
        for _ in range(count):
            cur = await conn.execute(
                "INSERT INTO users (email, password_hash) VALUES (%s, 'x') RETURNING id",
                (f"bench-{uuid.uuid4().hex[:12]}@example.com",),
            )
            users.append((await cur.fetchone())["id"])
    for user in users:
        await ledger.grant(user, 10**12, kind="purchase", idempotency_key=f"bench:{user}")
    return users


@asynccontextmanager
async def funded_ledger(
    data_dir: Path, pool: int, clients: int
) -> AsyncIterator[tuple[Database, LedgerService, list[uuid.UUID]]]:
    """A migrated embedded PostgreSQL in `data_dir` behind a pool of `pool` connections, the
    ledger service, and `clients` funded accounts; the pool is closed after the block."""
    url = embedded_postgres_url(data_dir)
    apply_migrations(url)
    db = Database(url, min_size=pool, max_size=pool)
    await db.open()
    try:
        ledger = LedgerService(db)
        yield db, ledger, await create_users(db, ledger, clients)
    finally:
        await db.close()


def postgres_cpu_seconds(postmaster_pid: int) -> float:
    """CPU used so far by the postmaster and its children (backends, WAL writer, ...), from
    /proc: on a shared machine, CPU per pair says more than pairs per second."""
    ticks = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if postmaster_pid in (int(pid), int(fields[1])):
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


async def run(
    db: Database, ledger: LedgerService, users: list[uuid.UUID], pair: Pair, clients: int, seconds: float
) -> tuple[int, float]:
    deadline = time.perf_counter() + seconds
    done = 0

    async def client(user: uuid.UUID) -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await pair(ledger, db, user)
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(client(users[i % len(users)]) for i in range(clients)))
    return done, time.perf_counter() - started


@dataclass(frozen=True)
class Measured:
    """Pairs per second, and CPU per pair in this process (the clients) and in PostgreSQL."""

    pairs: int
    seconds: float
    python_ms: float
    postgres_ms: float

    @property
    def per_second(self) -> float:
        return self.pairs / self.seconds

    def __str__(self) -> str:
        return (
            f"{self.per_second:6.0f} reserve+release pairs/s  ({self.pairs} in {self.seconds:.1f}s; "
            f"CPU per pair: Python {self.python_ms:.2f} ms + PostgreSQL {self.postgres_ms:.2f} ms)"
        )


async def measure(
    data_dir: Path,
    db: Database,
    ledger: LedgerService,
    users: list[uuid.UUID],
    pair: Pair,
    clients: int,
    seconds: float,
) -> Measured:
    """`run`, with the CPU the clients and the embedded PostgreSQL in `data_dir` spent on it."""
    postmaster = int((data_dir / "pg" / "postmaster.pid").read_text().split()[0])
    python_cpu, postgres_cpu = time.process_time(), postgres_cpu_seconds(postmaster)
    pairs, elapsed = await run(db, ledger, users, pair, clients, seconds)
    return Measured(
        pairs,
        elapsed,
        (time.process_time() - python_cpu) / pairs * 1000,
        (postgres_cpu_seconds(postmaster) - postgres_cpu) / pairs * 1000,
    )


async def main(args: argparse.Namespace) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="infrence-bench-"))
    data_dir.chmod(0o755)  # pgserver drops root to its own user, which must enter the dir
    try:
        async with funded_ledger(data_dir, args.pool, args.clients) as (db, ledger, own):
            scenarios = [
                ("own accounts", own, plain_pair),
                ("one account", own[:1], plain_pair),
                ("in a transaction", own, transactional_pair),
            ]
            await run(db, ledger, own, plain_pair, args.clients, 1.0)  # warm up the pool and caches
            print(
                f"ledger bench: {args.clients} concurrent clients, pool {args.pool}, {args.seconds:g}s each, "
                f"embedded PostgreSQL, {len(own)} accounts"
            )
            for name, users, pair in scenarios:
                measured = await measure(data_dir, db, ledger, users, pair, args.clients, args.seconds)
                print(f"  {name:<17} {measured}")
            print(f"  load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
            from ledger.check import check_ledger

            print(f"  {(await check_ledger(db)).summary()}")
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--pool", type=int, default=20)
    asyncio.run(main(parser.parse_args()))
