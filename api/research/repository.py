"""SQL for research jobs: the `research_jobs` table is also the work queue."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from api.research.schemas import TERMINAL_STATUSES

NOTIFY_CHANNEL = "research_jobs"


@dataclass
class JobRow:
    id: UUID
    user_id: UUID
    api_key_id: UUID | None
    origin: str
    mode: str
    question: str
    request: dict[str, Any]
    status: str
    stop_reason: str | None
    runs_async: bool
    credits_reserved: int
    credits_charged: int
    credits_refunded: int
    cost_usd_micros: int
    result: dict[str, Any] | None
    error: str | None
    webhook_url: str | None
    idempotency_key: str | None
    attempts: int
    lease_owner: str | None
    lease_expires_at: datetime | None
    cancel_requested_at: datetime | None
    wave_count: int | None
    source_count: int | None
    latency_ms: int | None
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    checkpoints_pruned_at: datetime | None

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


JOB_COLUMNS = ", ".join(f.name for f in fields(JobRow))

INSERT_SQL = f"""
INSERT INTO research_jobs (user_id, api_key_id, origin, mode, question, request, runs_async,
                           credits_reserved, webhook_url, idempotency_key)
VALUES (%(user_id)s, %(api_key_id)s, %(origin)s, %(mode)s, %(question)s, %(request)s, %(runs_async)s,
        %(credits_reserved)s, %(webhook_url)s, %(idempotency_key)s)
RETURNING {JOB_COLUMNS}
"""

CLAIM_NEXT_SQL = f"""
WITH next AS (
    SELECT id FROM research_jobs
    WHERE status = 'queued' OR (status = 'running' AND lease_expires_at < now())
    ORDER BY created_at
    LIMIT 1
    FOR UPDATE SKIP LOCKED
)
UPDATE research_jobs AS j
SET status = 'running', lease_owner = %(worker)s, lease_expires_at = now() + %(lease)s,
    attempts = j.attempts + 1, started_at = coalesce(j.started_at, now())
FROM next WHERE j.id = next.id
RETURNING {", ".join("j." + f.name for f in fields(JobRow))}
"""

FINISH_SQL = f"""
UPDATE research_jobs
SET status = %(status)s, stop_reason = %(stop_reason)s, credits_charged = %(credits_charged)s,
    cost_usd_micros = %(cost_usd_micros)s, result = %(result)s, error = %(error)s,
    wave_count = %(wave_count)s, source_count = %(source_count)s,
    latency_ms = GREATEST(0, (extract(epoch FROM now() - created_at) * 1000)::int),
    completed_at = now(), lease_owner = NULL, lease_expires_at = NULL
WHERE id = %(id)s AND status IN ('queued', 'running')
RETURNING {JOB_COLUMNS}
"""


class JobRepository:
    async def insert(
        self,
        tx: AsyncConnection,
        *,
        user_id: UUID,
        api_key_id: UUID | None,
        origin: str,
        mode: str,
        question: str,
        request: dict,
        runs_async: bool,
        credits_reserved: int,
        webhook_url: str | None,
        idempotency_key: str | None,
    ) -> JobRow:
        cur = tx.cursor(row_factory=class_row(JobRow))
        await cur.execute(
            INSERT_SQL,
            {
                "user_id": user_id,
                "api_key_id": api_key_id,
                "origin": origin,
                "mode": mode,
                "question": question,
                "request": Jsonb(request),
                "runs_async": runs_async,
                "credits_reserved": credits_reserved,
                "webhook_url": webhook_url,
                "idempotency_key": idempotency_key,
            },
        )
        return await cur.fetchone()

    async def notify_queued(self, tx: AsyncConnection, job_id: UUID) -> None:
        await tx.execute("SELECT pg_notify(%s, %s)", (NOTIFY_CHANNEL, str(job_id)))

    async def get(self, conn: AsyncConnection, job_id: UUID, *, for_update: bool = False) -> JobRow | None:
        cur = conn.cursor(row_factory=class_row(JobRow))
        lock = " FOR UPDATE" if for_update else ""
        await cur.execute(f"SELECT {JOB_COLUMNS} FROM research_jobs WHERE id = %s{lock}", (job_id,))
        return await cur.fetchone()

    async def get_for_user(self, conn: AsyncConnection, job_id: UUID, user_id: UUID) -> JobRow | None:
        cur = conn.cursor(row_factory=class_row(JobRow))
        await cur.execute(
            f"SELECT {JOB_COLUMNS} FROM research_jobs WHERE id = %s AND user_id = %s", (job_id, user_id)
        )
        return await cur.fetchone()

    async def find_by_idempotency_key(
        self, conn: AsyncConnection, user_id: UUID, key: str, newer_than: timedelta
    ) -> JobRow | None:
        cur = conn.cursor(row_factory=class_row(JobRow))
        await cur.execute(
            f"SELECT {JOB_COLUMNS} FROM research_jobs WHERE user_id = %s AND idempotency_key = %s"
            " AND created_at > now() - %s",
            (user_id, key, newer_than),
        )
        return await cur.fetchone()

    async def forget_idempotency_keys_older_than(self, conn: AsyncConnection, age: timedelta) -> int:
        cur = await conn.execute(
            "UPDATE research_jobs SET idempotency_key = NULL"
            " WHERE idempotency_key IS NOT NULL AND created_at < now() - %s",
            (age,),
        )
        return cur.rowcount

    async def list_for_user(
        self, conn: AsyncConnection, user_id: UUID, *, status: str | None, limit: int, offset: int
    ) -> list[JobRow]:
        cur = conn.cursor(row_factory=class_row(JobRow))
        await cur.execute(
            f"SELECT {JOB_COLUMNS} FROM research_jobs WHERE user_id = %(user)s"
            " AND (%(status)s::text IS NULL OR status = %(status)s)"
            " ORDER BY created_at DESC, id DESC LIMIT %(limit)s OFFSET %(offset)s",
            {"user": user_id, "status": status, "limit": limit, "offset": offset},
        )
        return await cur.fetchall()

    async def claim_next(self, tx: AsyncConnection, worker_id: str, lease: timedelta) -> JobRow | None:
        cur = tx.cursor(row_factory=class_row(JobRow))
        await cur.execute(CLAIM_NEXT_SQL, {"worker": worker_id, "lease": lease})
        return await cur.fetchone()

    async def extend_lease(
        self, conn: AsyncConnection, job_id: UUID, worker_id: str, lease: timedelta
    ) -> tuple[bool, bool]:
        """Renew a held lease. Returns (still_ours, cancel_requested)."""
        cur = await conn.execute(
            "UPDATE research_jobs SET lease_expires_at = now() + %s"
            " WHERE id = %s AND lease_owner = %s AND status = 'running'"
            " RETURNING cancel_requested_at IS NOT NULL",
            (lease, job_id, worker_id),
        )
        row = await cur.fetchone()
        return (row is not None, bool(row and next(iter(row.values()))))

    async def release_lease(self, conn: AsyncConnection, job_id: UUID, worker_id: str) -> None:
        """Give a running job back to the queue (graceful shutdown)."""
        await conn.execute(
            "UPDATE research_jobs SET lease_expires_at = now(), lease_owner = NULL"
            " WHERE id = %s AND lease_owner = %s AND status = 'running'",
            (job_id, worker_id),
        )

    async def request_cancel(self, tx: AsyncConnection, job_id: UUID) -> None:
        await tx.execute(
            "UPDATE research_jobs SET cancel_requested_at = coalesce(cancel_requested_at, now())"
            " WHERE id = %s",
            (job_id,),
        )

    async def finish(
        self,
        tx: AsyncConnection,
        job_id: UUID,
        *,
        status: str,
        stop_reason: str | None,
        credits_charged: int,
        cost_usd_micros: int,
        result: dict | None,
        error: str | None,
        wave_count: int | None,
        source_count: int | None,
    ) -> JobRow | None:
        """Move a live job to a terminal status; None when it was already terminal."""
        cur = tx.cursor(row_factory=class_row(JobRow))
        await cur.execute(
            FINISH_SQL,
            {
                "id": job_id,
                "status": status,
                "stop_reason": stop_reason,
                "credits_charged": credits_charged,
                "cost_usd_micros": cost_usd_micros,
                "result": Jsonb(result) if result is not None else None,
                "error": error,
                "wave_count": wave_count,
                "source_count": source_count,
            },
        )
        return await cur.fetchone()

    async def record_refund(self, tx: AsyncConnection, job_id: UUID, credits: int) -> JobRow:
        """Count an admin refund on the job, in the transaction that writes its ledger row."""
        cur = tx.cursor(row_factory=class_row(JobRow))
        await cur.execute(
            f"UPDATE research_jobs SET credits_refunded = credits_refunded + %s WHERE id = %s"
            f" RETURNING {JOB_COLUMNS}",
            (credits, job_id),
        )
        return await cur.fetchone()

    async def live_job_ids_for_user(self, conn: AsyncConnection, user_id: UUID) -> list[UUID]:
        cur = await conn.execute(
            "SELECT id FROM research_jobs WHERE user_id = %s AND status IN ('queued', 'running')", (user_id,)
        )
        return [row["id"] for row in await cur.fetchall()]

    async def terminal_unpruned_before(self, conn: AsyncConnection, age: timedelta, limit: int) -> list[UUID]:
        cur = await conn.execute(
            "SELECT id FROM research_jobs WHERE completed_at < now() - %s AND checkpoints_pruned_at IS NULL"
            " ORDER BY completed_at LIMIT %s",
            (age, limit),
        )
        return [row["id"] for row in await cur.fetchall()]

    async def mark_pruned(self, conn: AsyncConnection, job_ids: list[UUID]) -> None:
        await conn.execute(
            "UPDATE research_jobs SET checkpoints_pruned_at = now() WHERE id = ANY(%s)", (job_ids,)
        )

    async def queue_depth(self, conn: AsyncConnection) -> int:
        cur = await conn.execute("SELECT count(*) AS n FROM research_jobs WHERE status = 'queued'")
        return (await cur.fetchone())["n"]
