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
from billing.topup import auto_topup_cte
from core.db import utc_days_cte
from ledger.repository import STALE, Stale, entry_cte, reserve_ctes

NOTIFY_CHANNEL = "research_jobs"
# How long an Idempotency-Key names its job: a create inside it answers that job, retention forgets
# keys past it.
IDEMPOTENCY_WINDOW = timedelta(hours=24)


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
    extensions: list[dict[str, Any]]
    plan: dict[str, Any] | None
    approval_expires_at: datetime | None

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


JOB_COLUMNS = ", ".join(f.name for f in fields(JobRow))


@dataclass(frozen=True)
class JobSummary:
    id: UUID
    user_id: UUID
    user_email: str
    created_at: datetime
    status: str
    question: str
    credits_charged: int
    cost_usd_micros: int
    latency_ms: int | None


@dataclass(frozen=True)
class JobDetail(JobSummary):
    credits_reserved: int
    credits_refunded: int
    request: dict[str, Any]
    result: dict[str, Any] | None
    error: str | None
    completed_at: datetime | None
    wave_count: int | None
    source_count: int | None


@dataclass(frozen=True)
class JobBucket:
    day: datetime
    count: int
    credits_charged_sum: int
    cost_usd_micros_sum: int


# What the dashboard's logs and recent jobs show of a job.
LOG_COLUMNS = (
    "id, created_at, status, question, mode, credits_charged, cost_usd_micros, latency_ms,"
    " source_count, wave_count"
)
LOG_PAGE_SQL = f"""
SELECT {LOG_COLUMNS} FROM research_jobs WHERE user_id = %(user)s
  AND (%(status)s::text IS NULL OR status = %(status)s)
ORDER BY created_at DESC, id DESC LIMIT %(limit)s OFFSET %(offset)s"""

DAILY_USAGE_SQL = """
SELECT d.day AS day,
       coalesce(sum(j.credits_charged), 0)::bigint AS credits,
       count(j.id)::bigint AS jobs,
       coalesce(sum(j.cost_usd_micros), 0)::bigint AS cost_usd_micros
FROM generate_series(%(first)s::timestamptz, %(last)s::timestamptz, interval '1 day') AS d(day)
LEFT JOIN research_jobs j
       ON j.user_id = %(user)s AND j.created_at >= d.day AND j.created_at < d.day + interval '1 day'
GROUP BY d.day ORDER BY d.day
"""

_JOB_SUMMARY_COLUMNS = """j.id, j.user_id, u.email AS user_email, j.created_at, j.status, j.question,
    j.credits_charged, j.cost_usd_micros, j.latency_ms"""

# With `user_email` the user is found by users_email_key and the jobs by research_jobs_user_idx;
# with `status` alone by research_jobs_status_idx; with neither by research_jobs_created_idx.
ADMIN_JOBS_PAGE_SQL = f"""
SELECT {_JOB_SUMMARY_COLUMNS}
FROM research_jobs j JOIN users u ON u.id = j.user_id
WHERE (%(email)s::text IS NULL OR u.email = %(email)s)
  AND (%(status)s::text IS NULL OR j.status = %(status)s)
ORDER BY j.created_at DESC, j.id DESC
LIMIT %(limit)s OFFSET %(offset)s"""

ADMIN_JOB_DETAIL_SQL = f"""
SELECT {_JOB_SUMMARY_COLUMNS}, j.credits_reserved, j.credits_refunded, j.request, j.result, j.error,
       j.completed_at, j.wave_count, j.source_count
FROM research_jobs j JOIN users u ON u.id = j.user_id
WHERE j.id = %(id)s"""

# research_jobs_daily_idx (created_at INCLUDE the summed columns): an index-only scan.
JOBS_COUNTED_BY_DAY = """
, counted AS (
    SELECT date_bin('1 day', j.created_at, bounds.since) AS day, count(*) AS count,
           sum(j.credits_charged) AS credits_charged_sum, sum(j.cost_usd_micros) AS cost_usd_micros_sum
    FROM research_jobs j, bounds WHERE j.created_at >= bounds.since GROUP BY 1
)
SELECT d.day, coalesce(c.count, 0) AS count,
       coalesce(c.credits_charged_sum, 0)::bigint AS credits_charged_sum,
       coalesce(c.cost_usd_micros_sum, 0)::bigint AS cost_usd_micros_sum
FROM days d LEFT JOIN counted c USING (day) ORDER BY d.day"""

# Not finished: a job awaiting its plan's approval holds a reservation and resumes when approved,
# so it counts as live everywhere live jobs are counted (not in the queue depth: no worker waits
# for it).
LIVE = "status IN ('queued', 'running', 'awaiting_approval')"

LIVE_LEVELS_SQL = """
SELECT (SELECT count(*) FROM research_jobs WHERE status = 'queued') AS queued,
       (SELECT count(*) FROM research_jobs WHERE status = 'running') AS running,
       (SELECT count(*) FROM research_jobs WHERE status = 'awaiting_approval') AS awaiting_approval,
       (SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0)
          FROM research_jobs WHERE status = 'queued') AS oldest_queued_secs
"""

# A create in one statement: the job an earlier create with the same Idempotency-Key made, else
# the job row, its credit reservation (ledger/repository.py: split on the account row, written
# only if that row is unchanged) and ledger row, an auto top-up if the debit calls for one, and
# the NOTIFY that wakes a worker. Answers the job (`created`), the earlier one, a `stale` row
# (the account changed meanwhile: run it again with the account locked), or nothing (the
# credits do not cover it).
CREATE_SQL = f"""
WITH earlier AS (
    SELECT {JOB_COLUMNS} FROM research_jobs
    WHERE user_id = %(user_id)s AND idempotency_key = %(idempotency_key)s AND created_at > now() - %(window)s
), {reserve_ctes(guard="NOT EXISTS (SELECT 1 FROM earlier)")}, job AS (
    INSERT INTO research_jobs (id, user_id, api_key_id, origin, mode, question, request, runs_async,
                               credits_reserved, webhook_url, idempotency_key, connector_headers)
    SELECT %(job_id)s, user_id, %(api_key_id)s, %(origin)s, %(mode)s, %(question)s, %(request)s, %(runs_async)s,
           %(credits)s, %(webhook_url)s, %(idempotency_key)s, %(connector_headers)s
    FROM account
    RETURNING {JOB_COLUMNS}
), {entry_cte("reserve", source="account, job", related_id="job.id::text", key="'job:' || job.id || ':reserve'")},
{auto_topup_cte(source="account a, job", cause="'job:' || job.id")}, notified AS (
    SELECT count(pg_notify('{NOTIFY_CHANNEL}', id::text)) AS sent FROM job
)
SELECT job.*, true AS created, false AS stale
FROM job, entry, notified, auto_topup_notified  -- read, so that every item runs
UNION ALL
SELECT *, false AS created, false AS stale FROM earlier
UNION ALL
SELECT {JOB_COLUMNS}, false AS created, true AS stale FROM (SELECT (NULL::research_jobs).*) AS nothing
WHERE EXISTS (SELECT 1 FROM move) AND NOT EXISTS (SELECT 1 FROM account)
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
    completed_at = now(), lease_owner = NULL, lease_expires_at = NULL, connector_headers = NULL
WHERE id = %(id)s AND {LIVE} AND (%(lease_owner)s::text IS NULL OR lease_owner = %(lease_owner)s)
RETURNING {JOB_COLUMNS}
"""


# Back to the queue with a larger budget: a fresh attempt count and no trace of the last finish
# but its result, which stays readable until the extension writes a new one.
EXTEND_SQL = f"""
UPDATE research_jobs
SET status = 'queued', mode = %(mode)s, stop_reason = NULL, completed_at = NULL, error = NULL,
    lease_owner = NULL, lease_expires_at = NULL, cancel_requested_at = NULL, attempts = 0,
    credits_reserved = credits_reserved + %(reserved)s, extensions = extensions || %(extension)s
WHERE id = %(id)s AND status = 'succeeded'
RETURNING {JOB_COLUMNS}
"""

# The run paused after planning: no lease, the plan kept for the client, a deadline to answer by.
AWAIT_APPROVAL_SQL = f"""
UPDATE research_jobs
SET status = 'awaiting_approval', plan = %(plan)s, approval_expires_at = now() + %(ttl)s,
    lease_owner = NULL, lease_expires_at = NULL
WHERE id = %(id)s AND lease_owner = %(worker)s AND status = 'running'
RETURNING {JOB_COLUMNS}
"""

APPROVE_PLAN_SQL = f"""
UPDATE research_jobs
SET status = 'queued', plan = plan || %(approved)s, approval_expires_at = NULL
WHERE id = %(id)s AND status = 'awaiting_approval'
RETURNING {JOB_COLUMNS}
"""

LOCK_EXPIRED_APPROVALS_SQL = f"""
SELECT {JOB_COLUMNS} FROM research_jobs
WHERE status = 'awaiting_approval' AND approval_expires_at < now()
ORDER BY approval_expires_at LIMIT %(limit)s
FOR UPDATE SKIP LOCKED
"""

RECORD_EXTENSION_CHARGE_SQL = """
UPDATE research_jobs
SET extensions = jsonb_set(extensions, ARRAY[(jsonb_array_length(extensions) - 1)::text, 'credits'],
                           to_jsonb(%(credits)s::bigint))
WHERE id = %(id)s AND jsonb_array_length(extensions) > 0
"""


class JobRepository:
    async def create(
        self,
        conn: AsyncConnection,
        *,
        job_id: UUID,
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
        idempotency_window: timedelta,
        connector_headers: str | None = None,
    ) -> tuple[JobRow, bool] | Stale | None:
        """See CREATE_SQL: (the job, created?), STALE, or None when the credits do not cover it.
        `connector_headers` are sealed (the job's MCP connector headers, erased by `finish`)."""
        cur = await conn.execute(
            CREATE_SQL,
            {
                "job_id": job_id,
                "user_id": user_id,
                "api_key_id": api_key_id,
                "origin": origin,
                "mode": mode,
                "question": question,
                "request": Jsonb(request),
                "runs_async": runs_async,
                "credits": credits_reserved,
                "webhook_url": webhook_url,
                "idempotency_key": idempotency_key,
                "window": idempotency_window,
                "note": f"{mode} job",
                "connector_headers": connector_headers,
            },
        )
        row = await cur.fetchone()
        if row is None:
            return None
        if row["stale"]:
            return STALE
        return JobRow(**{f.name: row[f.name] for f in fields(JobRow)}), row["created"]

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

    async def forget_idempotency_keys_older_than(
        self, conn: AsyncConnection, age: timedelta, *, user_id: UUID | None = None, key: str | None = None
    ) -> int:
        """Free the keys of jobs older than `age`: all of them, or the one `user_id` and `key` name."""
        one_key = " AND user_id = %(user_id)s AND idempotency_key = %(key)s" if key is not None else ""
        cur = await conn.execute(
            "UPDATE research_jobs SET idempotency_key = NULL"
            " WHERE idempotency_key IS NOT NULL AND created_at < now() - %(age)s" + one_key,
            {"age": age, "user_id": user_id, "key": key},
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

    async def connector_headers(self, conn: AsyncConnection, job_id: UUID) -> str | None:
        cur = await conn.execute("SELECT connector_headers FROM research_jobs WHERE id = %s", (job_id,))
        row = await cur.fetchone()
        return row["connector_headers"] if row else None

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
        lease_owner: str | None = None,
    ) -> JobRow | None:
        """Move a live job to a terminal status; None when it was already terminal, or when
        `lease_owner` (a worker finishing its run) no longer holds the job's lease."""
        cur = tx.cursor(row_factory=class_row(JobRow))
        await cur.execute(
            FINISH_SQL,
            {
                "id": job_id,
                "lease_owner": lease_owner,
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

    async def extend(
        self, tx: AsyncConnection, job_id: UUID, *, mode: str, reserved: int, extension: dict
    ) -> JobRow | None:
        """Requeue a succeeded job under its new budget; None when it is not (or no longer) succeeded."""
        cur = tx.cursor(row_factory=class_row(JobRow))
        await cur.execute(
            EXTEND_SQL, {"id": job_id, "mode": mode, "reserved": reserved, "extension": Jsonb([extension])}
        )
        return await cur.fetchone()

    async def await_approval(
        self, conn: AsyncConnection, job_id: UUID, worker_id: str, plan: dict, ttl: timedelta
    ) -> JobRow | None:
        """Park a planned job until its client approves the plan; None when the lease was lost."""
        cur = conn.cursor(row_factory=class_row(JobRow))
        await cur.execute(
            AWAIT_APPROVAL_SQL, {"id": job_id, "worker": worker_id, "plan": Jsonb(plan), "ttl": ttl}
        )
        return await cur.fetchone()

    async def approve_plan(self, tx: AsyncConnection, job_id: UUID, queries: list[str]) -> JobRow | None:
        """Queue a parked job again with the approved queries; None when it was not awaiting approval."""
        cur = tx.cursor(row_factory=class_row(JobRow))
        await cur.execute(
            APPROVE_PLAN_SQL, {"id": job_id, "approved": Jsonb({"queries": queries, "approved": True})}
        )
        return await cur.fetchone()

    async def lock_expired_approvals(self, tx: AsyncConnection, limit: int) -> list[JobRow]:
        cur = tx.cursor(row_factory=class_row(JobRow))
        await cur.execute(LOCK_EXPIRED_APPROVALS_SQL, {"limit": limit})
        return await cur.fetchall()

    async def record_extension_charge(self, tx: AsyncConnection, job_id: UUID, credits: int) -> None:
        """The credits the latest extension added, once it is settled."""
        await tx.execute(RECORD_EXTENSION_CHARGE_SQL, {"id": job_id, "credits": credits})

    async def record_refund(self, tx: AsyncConnection, job_id: UUID, credits: int) -> JobRow:
        """Count an admin refund on the job, in the transaction that writes its ledger row."""
        cur = tx.cursor(row_factory=class_row(JobRow))
        await cur.execute(
            f"UPDATE research_jobs SET credits_refunded = credits_refunded + %s WHERE id = %s"
            f" RETURNING {JOB_COLUMNS}",
            (credits, job_id),
        )
        return await cur.fetchone()

    async def count_of_user(self, conn: AsyncConnection, user_id: UUID) -> int:
        cur = await conn.execute("SELECT count(*) AS n FROM research_jobs WHERE user_id = %s", (user_id,))
        return (await cur.fetchone())["n"]

    async def count_live(self, conn: AsyncConnection) -> int:
        """Jobs queued, running or awaiting approval (research_jobs_status_idx)."""
        cur = await conn.execute(f"SELECT count(*) AS n FROM research_jobs WHERE {LIVE}")
        return (await cur.fetchone())["n"]

    async def live_job_ids_for_user(self, conn: AsyncConnection, user_id: UUID) -> list[UUID]:
        cur = await conn.execute(f"SELECT id FROM research_jobs WHERE user_id = %s AND {LIVE}", (user_id,))
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

    # -- read models of other surfaces (dashboard, admin, metrics, retention) ----------------------

    async def log_page(
        self, conn: AsyncConnection, user_id: UUID, *, status: str | None, limit: int, offset: int
    ) -> list[dict]:
        cur = await conn.execute(
            LOG_PAGE_SQL, {"user": user_id, "status": status, "limit": limit, "offset": offset}
        )
        return await cur.fetchall()

    async def daily_usage(
        self, conn: AsyncConnection, user_id: UUID, first: datetime, last: datetime
    ) -> list[dict]:
        cur = await conn.execute(DAILY_USAGE_SQL, {"user": user_id, "first": first, "last": last})
        return await cur.fetchall()

    async def admin_page(
        self, conn: AsyncConnection, *, user_email: str | None, status: str | None, limit: int, offset: int
    ) -> list[JobSummary]:
        cur = conn.cursor(row_factory=class_row(JobSummary))
        await cur.execute(
            ADMIN_JOBS_PAGE_SQL, {"email": user_email, "status": status, "limit": limit, "offset": offset}
        )
        return await cur.fetchall()

    async def admin_detail(self, conn: AsyncConnection, job_id: UUID) -> JobDetail | None:
        cur = conn.cursor(row_factory=class_row(JobDetail))
        await cur.execute(ADMIN_JOB_DETAIL_SQL, {"id": job_id})
        return await cur.fetchone()

    async def by_day(self, conn: AsyncConnection, days: int) -> list[JobBucket]:
        """Jobs, credits and provider cost per UTC day, zero-filled (`core.db.utc_days_cte`)."""
        cur = conn.cursor(row_factory=class_row(JobBucket))
        await cur.execute(utc_days_cte(days) + JOBS_COUNTED_BY_DAY)
        return await cur.fetchall()

    async def live_levels(self, conn: AsyncConnection) -> dict[str, float]:
        """Live jobs by status (queued, running, awaiting approval) and the oldest queued job's age."""
        row = await (await conn.execute(LIVE_LEVELS_SQL)).fetchone()
        return {key: float(value) for key, value in row.items()}

    async def ids_still_streaming(
        self, conn: AsyncConnection, job_ids: list[UUID], window: timedelta
    ) -> set[UUID]:
        """Of `job_ids`, those whose event stream must stay: unfinished, or finished within `window`."""
        cur = await conn.execute(
            "SELECT id FROM research_jobs WHERE id = ANY(%(ids)s)"
            " AND (completed_at IS NULL OR completed_at > now() - %(window)s)",
            {"ids": job_ids, "window": window},
        )
        return {row["id"] for row in await cur.fetchall()}
