"""Data retention: forget what no longer protects anyone, on a schedule (the worker's maintenance
loop runs `run_retention` hourly).

- email tokens past their expiry (a verify/reset link that can no longer work);
- refresh tokens expired or revoked more than a grace period ago (kept that long so a replayed
  token is still recognised as a reuse of its family, and for support's view of recent sessions);
- research idempotency keys older than 24 hours (the documented replay window);
- Redis event streams of jobs finished longer ago than a stream's replay window, or whose job
  no longer exists (streams normally expire on their own; this catches those whose terminal
  event never reached Redis, so they kept the longer live TTL);
- LangGraph checkpoints of jobs finished more than `checkpoint_retention_days` ago;
- outbox tasks done more than a week ago (their keys name facts that do not recur; dead tasks
  stay for admins).

Each step asks the repository that owns its table, and runs on its own, so one failing (Redis down)
does not stop the others.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from uuid import UUID

from redis.asyncio import Redis

from api.research.events import TERMINAL_TTL_SECS, stream_key
from api.research.repository import IDEMPOTENCY_WINDOW, JobRepository
from auth.repository import AccountRepository
from core.db import Database
from core.outbox import OutboxRepository
from core.settings import Settings

log = logging.getLogger(__name__)

REFRESH_TOKEN_GRACE = timedelta(days=7)
STREAM_REPLAY_WINDOW = timedelta(seconds=TERMINAL_TTL_SECS)
STREAM_SCAN_BATCH = 500
MAX_PRUNE_ROUNDS = 50  # bounds one run; the next run continues
DONE_OUTBOX_TASKS_KEPT = timedelta(days=7)


@dataclass
class RetentionReport:
    email_tokens: int = 0
    refresh_tokens: int = 0
    idempotency_keys: int = 0
    event_streams: int = 0
    checkpointed_jobs: int = 0
    outbox_tasks: int = 0
    failed_steps: list[str] = field(default_factory=list)


async def run_retention(db: Database, redis: Redis, settings: Settings) -> RetentionReport:
    """One pass of every cleanup; returns what each removed (and which steps failed)."""
    report = RetentionReport()
    steps = {
        "email_tokens": lambda: _in_connection(db, AccountRepository().delete_expired_email_tokens),
        "refresh_tokens": lambda: _in_connection(
            db, lambda conn: AccountRepository().delete_stale_refresh_tokens(conn, REFRESH_TOKEN_GRACE)
        ),
        "idempotency_keys": lambda: _forget_idempotency_keys(db),
        "event_streams": lambda: _drop_stale_streams(db, redis),
        "checkpointed_jobs": lambda: _prune_checkpoints(db, settings),
        "outbox_tasks": lambda: _prune_outbox(db),
    }
    for name, step in steps.items():
        try:
            setattr(report, name, await step())
        except Exception as exc:  # storage blips: the next run tries again
            report.failed_steps.append(name)
            log.warning("retention step %s failed: %s", name, type(exc).__name__)
    log.info("retention: %s", report)
    return report


async def _in_connection(db: Database, step) -> int:
    async with db.connection() as conn:
        return await step(conn)


async def _prune_outbox(db: Database) -> int:
    async with db.connection() as conn:
        return await OutboxRepository().prune_done(conn, DONE_OUTBOX_TASKS_KEPT)


async def _forget_idempotency_keys(db: Database) -> int:
    return await _in_connection(
        db, lambda conn: JobRepository().forget_idempotency_keys_older_than(conn, IDEMPOTENCY_WINDOW)
    )


async def _drop_stale_streams(db: Database, redis: Redis) -> int:
    dropped = 0
    batch: dict[UUID, str] = {}
    async for key in redis.scan_iter(match=stream_key("*"), count=STREAM_SCAN_BATCH, _type="stream"):
        job_id = _job_id_of(key)
        if job_id is not None:
            batch[job_id] = key
        if len(batch) >= STREAM_SCAN_BATCH:
            dropped += await _drop_streams_of_finished(db, redis, batch)
            batch = {}
    if batch:
        dropped += await _drop_streams_of_finished(db, redis, batch)
    return dropped


async def _drop_streams_of_finished(db: Database, redis: Redis, streams: dict[UUID, str]) -> int:
    async with db.connection() as conn:
        keep = await JobRepository().ids_still_streaming(conn, list(streams), STREAM_REPLAY_WINDOW)
    stale = [key for job_id, key in streams.items() if job_id not in keep]
    return await redis.delete(*stale) if stale else 0


def _job_id_of(key: str) -> UUID | None:
    try:
        return UUID(key.split(":")[1])
    except (IndexError, ValueError):
        return None


async def _prune_checkpoints(db: Database, settings: Settings) -> int:
    from api.research.runner import PRUNE_BATCH, GraphRunner  # the graph's imports, only when pruning

    runner = GraphRunner(db, settings)
    older_than = timedelta(days=settings.checkpoint_retention_days)
    pruned = 0
    for _ in range(MAX_PRUNE_ROUNDS):
        count = await runner.prune_checkpoints(older_than)
        pruned += count
        if count < PRUNE_BATCH:
            break
    return pruned
