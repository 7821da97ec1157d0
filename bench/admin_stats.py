"""Admin stats latency with 100k research jobs (target: well under 100 ms).

Not a test: it prints figures. Starts an embedded PostgreSQL in a temp dir (as the tests do),
applies the migrations, seeds users, jobs over 60 days, payments and tickets with
set-based SQL, then times the three statements `GET /api/admin/stats` runs (the
`AdminService.stats` unit) and shows each plan's scan nodes, so an unindexed scan shows.

    uv run python bench/admin_stats.py [--jobs 100000] [--users 5000] [--runs 50]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

from api.admin.repository import JOBS_BY_DAY, SIGNUPS_BY_DAY, TOTALS, AdminRepository  # noqa: E402
from core.db import Database  # noqa: E402
from core.migrate import apply_migrations  # noqa: E402
from core.storage import embedded_postgres_url  # noqa: E402

SEED_SQL = """
INSERT INTO users (email, password_hash, created_at, suspended_at)
SELECT 'user' || i || '@example.com', 'x',
       now() - mod(i, 90) * interval '1 day' - mod(i, 1440) * interval '1 minute',
       CASE WHEN mod(i, 100) = 0 THEN now() END
FROM generate_series(1, %(users)s) AS i;

INSERT INTO credit_accounts (user_id, balance) SELECT id, (random() * 5000)::bigint FROM users;

INSERT INTO research_jobs (user_id, origin, mode, question, request, status, credits_reserved, credits_charged,
                           cost_usd_micros, created_at, completed_at, latency_ms)
SELECT ids.all_ids[1 + mod(j.i, %(users)s)], 'api', 'standard', 'question ' || j.i,
       '{"question": "q", "mode": "standard"}', s.status, 60, CASE WHEN s.status = 'succeeded' THEN 60 ELSE 0 END,
       mod(j.i, 250000), j.created_at,
       CASE WHEN s.status IN ('queued', 'running') THEN NULL ELSE j.created_at + interval '1 minute' END,
       CASE WHEN s.status IN ('queued', 'running') THEN NULL ELSE 60000 END
FROM (SELECT array_agg(id) AS all_ids FROM users) AS ids,
     (SELECT i, now() - mod(i, 60) * interval '1 day' - mod(i, 86400) * interval '1 second' AS created_at
      FROM generate_series(1, %(jobs)s) AS i) AS j,
     LATERAL (SELECT CASE WHEN mod(j.i, 500) = 0 THEN 'queued' WHEN mod(j.i, 499) = 0 THEN 'running'
                          WHEN mod(j.i, 20) = 0 THEN 'failed' WHEN mod(j.i, 33) = 0 THEN 'canceled'
                          ELSE 'succeeded' END AS status) AS s;

INSERT INTO payments (user_id, kind, pack_id, pack_credits, pack_amount_cents, status, created_at, completed_at)
SELECT id, 'pack', 'starter', 1000, 999, CASE WHEN random() < 0.8 THEN 'succeeded' ELSE 'failed' END,
       created_at, created_at + interval '1 minute'
FROM users;

INSERT INTO support_tickets (user_id, email, category, subject, body, status, created_at)
SELECT id, email, 'general', 'subject', 'body', CASE WHEN random() < 0.2 THEN 'open' ELSE 'closed' END, created_at
FROM users
"""


async def seed(db: Database, users: int, jobs: int) -> None:
    async with db.transaction() as tx:
        for statement in SEED_SQL.split(";\n"):
            await tx.execute(statement, {"users": users, "jobs": jobs})
    async with db.connection() as conn:
        await conn.execute("VACUUM ANALYZE")


async def stats_once(db: Database, repo: AdminRepository) -> float:
    start = time.perf_counter()
    async with db.connection() as conn:  # what AdminService.stats does
        await repo.signups_by_day(conn)
        await repo.jobs_by_day(conn)
        await repo.totals(conn)
    return (time.perf_counter() - start) * 1000


async def timed(db: Database, sql: str) -> float:
    async with db.connection() as conn:
        start = time.perf_counter()
        await (await conn.execute(sql)).fetchall()
        return (time.perf_counter() - start) * 1000


async def scans(db: Database, sql: str) -> list[str]:
    async with db.connection() as conn:
        cur = await conn.execute("EXPLAIN (ANALYZE, COSTS OFF) " + sql)
        lines = [next(iter(row.values())) for row in await cur.fetchall()]
    return [
        re.sub(r"\s*\(actual.*", "", line).strip().lstrip("-> ")
        for line in lines
        if "Scan" in line and "Function Scan" not in line and "CTE Scan" not in line
    ]


async def main(args: argparse.Namespace) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="infrence-bench-"))
    data_dir.chmod(0o755)  # pgserver drops root to its own user, which must enter the dir
    try:
        url = embedded_postgres_url(data_dir)
        apply_migrations(url)
        db = Database(url, min_size=1, max_size=2)
        await db.open()
        try:
            started = time.perf_counter()
            await seed(db, args.users, args.jobs)
            print(
                f"seeded {args.users} users, {args.jobs} jobs, payments and tickets "
                f"in {time.perf_counter() - started:.1f} s"
            )
            repo = AdminRepository()
            for name, sql in (
                ("signups by day", SIGNUPS_BY_DAY),
                ("jobs by day", JOBS_BY_DAY),
                ("totals", TOTALS),
            ):
                print(f"{name}:")
                for line in await scans(db, sql):
                    print(f"    {line}")
            await stats_once(db, repo)  # warm the pool and caches
            for name, sql in (
                ("signups by day", SIGNUPS_BY_DAY),
                ("jobs by day", JOBS_BY_DAY),
                ("totals", TOTALS),
            ):
                print(f"{name}: median {statistics.median([await timed(db, sql) for _ in range(20)]):.1f} ms")
            timings = sorted([await stats_once(db, repo) for _ in range(args.runs)])
            p95 = timings[max(0, int(len(timings) * 0.95) - 1)]
            print(
                f"GET /api/admin/stats queries, {args.runs} runs: median {statistics.median(timings):.1f} ms, "
                f"p95 {p95:.1f} ms, max {timings[-1]:.1f} ms (target < 100 ms)"
            )
        finally:
            await db.close()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=50)
    asyncio.run(main(parser.parse_args()))
