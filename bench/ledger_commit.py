"""The ledger pair's Python overhead, and what group commit does to pairs/s (prints, never asserts).

  uv run python -m bench.ledger_commit [--pairs 1000] [--clients 50] [--seconds 5]

overhead      one client, pairs one after the other (no lock waits): Python CPU per
              reserve+release pair through `LedgerService`, minus the same for the raw pair
              of `bench/baselines.py` (two conditional UPDATEs through the same pool) — what
              our code adds on top of two committed writes.
group commit  `bench/ledger.py`'s "own accounts" pairs with `commit_delay` 0 (the default),
              100 and 1000 µs (`commit_siblings` 5), `synchronous_commit` on throughout: a
              committing backend waits that long for others to share its WAL flush.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from pathlib import Path

from bench.baselines import raw_pair
from bench.ledger import CREDITS, Pair, funded_ledger, plain_pair, run
from core.db import Database
from ledger import LedgerService


async def cpu_per_pair(ledger: LedgerService, db: Database, user, pair: Pair, count: int) -> float:
    started = time.process_time()
    for _ in range(count):
        await pair(ledger, db, user)
    return (time.process_time() - started) / count * 1000


async def set_commit_delay(db: Database, micros: int) -> None:
    async with db.connection() as conn:
        await conn.execute(f"ALTER SYSTEM SET commit_delay = {int(micros)}")
        await conn.execute("ALTER SYSTEM SET commit_siblings = 5")
        await conn.execute("SELECT pg_reload_conf()")


async def main(args: argparse.Namespace) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="infrence-bench-commit-"))
    data_dir.chmod(0o755)  # pgserver drops root to its own user, which must enter the dir
    try:
        async with funded_ledger(data_dir, args.pool, args.clients) as (db, ledger, users):
            for user in users:  # the raw pair moves the balance only
                await ledger.grant(user, 1000 * CREDITS, kind="purchase", idempotency_key=f"raw:{user}")
            for pair in (plain_pair, raw_pair):  # warm up both paths (prepared statements, caches)
                await cpu_per_pair(ledger, db, users[0], pair, 100)
            ours, raw = [], []
            for _ in range(2):  # interleaved, so load changes hit both alike
                ours.append(await cpu_per_pair(ledger, db, users[0], plain_pair, args.pairs))
                raw.append(await cpu_per_pair(ledger, db, users[0], raw_pair, args.pairs))
            print(f"ledger pair overhead, one client, {args.pairs} pairs x2, best of two:")
            print(
                f"  Python CPU per pair: LedgerService {min(ours):.3f} ms, raw pair {min(raw):.3f} ms, "
                f"overhead {min(ours) - min(raw):.3f} ms (target <= 0.3 ms)"
            )
            print(
                f"group commit: {args.clients} clients, pool {args.pool}, {args.seconds:g}s each, synchronous_commit on"
            )
            for micros in (0, 100, 1000, 0):
                await set_commit_delay(db, micros)
                pairs, elapsed = await run(db, ledger, users, plain_pair, args.clients, args.seconds)
                print(f"  commit_delay {micros:>4} us   {pairs / elapsed:6.0f} reserve+release pairs/s")
            await set_commit_delay(db, 0)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--pool", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=5.0)
    asyncio.run(main(parser.parse_args()))
