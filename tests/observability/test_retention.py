"""Retention forgets expired tokens, old idempotency keys, stale event streams and old checkpoints,
and keeps everything still in use."""

from __future__ import annotations

import uuid

from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

from api.research.events import stream_key
from api.research.runner import GraphRunner
from api.retention import run_retention
from tests.accounts import open_account

EMAIL_TOKEN = """INSERT INTO email_tokens (user_id, purpose, token_hash, created_at, expires_at)
VALUES (%s, 'verify', %s, now() - %s::interval - interval '1 hour', now() - %s::interval) RETURNING id"""
REFRESH_TOKEN = """INSERT INTO refresh_tokens
    (user_id, family_id, token_hash, created_at, expires_at, revoked_at)
VALUES (%s, gen_random_uuid(), %s, now() - interval '60 days', now() - %s::interval, now() - %s::interval)
RETURNING id"""
JOB = """INSERT INTO research_jobs (user_id, origin, mode, question, request, status, credits_reserved,
    idempotency_key, created_at, completed_at)
VALUES (%s, 'api', 'lite', 'q?', '{}', %s, 0, %s, now() - %s::interval,
        CASE WHEN %s THEN now() - %s::interval END) RETURNING id"""


async def _ids(conn, table: str) -> set:
    return {row["id"] for row in await (await conn.execute(f"SELECT id FROM {table}")).fetchall()}


async def test_retention_removes_what_expired_and_keeps_what_is_live(client, app, settings):
    db, redis = app.state.db, app.state.redis
    user = (await open_account(client, db, credits=0)).user_id
    await GraphRunner(db, settings).setup()
    async with db.connection() as conn:

        async def insert(sql, *params):
            return (await (await conn.execute(sql, params)).fetchone())["id"]

        token = lambda: uuid.uuid4().bytes  # noqa: E731
        expired_link = await insert(EMAIL_TOKEN, user, token(), "1 hour", "1 minute")
        live_link = await insert(EMAIL_TOKEN, user, token(), "-1 day", "-1 day")
        long_expired = await insert(REFRESH_TOKEN, user, token(), "8 days", None)
        long_revoked = await insert(REFRESH_TOKEN, user, token(), "-20 days", "8 days")
        recently_expired = await insert(REFRESH_TOKEN, user, token(), "1 day", None)  # grace period
        recently_revoked = await insert(REFRESH_TOKEN, user, token(), "-20 days", "1 day")
        live_session = await insert(REFRESH_TOKEN, user, token(), "-20 days", None)
        old_job = await insert(JOB, user, "succeeded", "old-key", "30 hours", True, "10 days")
        recent_job = await insert(JOB, user, "succeeded", "recent-key", "2 hours", True, "1 hour")
        running_job = await insert(JOB, user, "running", None, "3 days", False, None)

    for job_id in (old_job, recent_job, running_job, uuid.uuid4()):  # the last one has no job at all
        await redis.xadd(stream_key(job_id), {"type": "progress", "data": "{}"})
    saver = AsyncPostgresSaver(db.pool)
    for job_id in (old_job, recent_job):
        await saver.aput(
            {"configurable": {"thread_id": str(job_id), "checkpoint_ns": ""}}, empty_checkpoint(), {}, {}
        )

    report = await run_retention(db, redis, settings)

    assert report.failed_steps == []
    async with db.connection() as conn:
        links = await _ids(conn, "email_tokens")  # signup's own verify link is live too
        assert expired_link not in links and live_link in links
        refresh = await _ids(conn, "refresh_tokens")
        assert {long_expired, long_revoked} & refresh == set()
        assert {recently_expired, recently_revoked, live_session} <= refresh
        keys = {
            row["id"]: row["idempotency_key"]
            for row in await (await conn.execute("SELECT id, idempotency_key FROM research_jobs")).fetchall()
        }
        checkpointed = {
            row["thread_id"]
            for row in await (
                await conn.execute(
                    "SELECT DISTINCT thread_id FROM checkpoints WHERE thread_id = ANY(%s)",
                    ([str(old_job), str(recent_job)],),
                )
            ).fetchall()
        }
    assert keys[old_job] is None and keys[recent_job] == "recent-key"
    assert checkpointed == {str(recent_job)}
    streams = {key for key in await redis.keys(stream_key("*"))}
    assert streams == {stream_key(recent_job), stream_key(running_job)}
    assert (report.email_tokens, report.refresh_tokens, report.idempotency_keys) == (1, 2, 1)
    assert (report.event_streams, report.checkpointed_jobs) == (2, 1)

    again = await run_retention(db, redis, settings)
    assert (again.email_tokens, again.refresh_tokens) == (0, 0)
    assert (again.event_streams, again.checkpointed_jobs) == (0, 0)
