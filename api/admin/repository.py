"""SQL of the admin surface: read models across accounts, jobs and money, the stats, the audit log.

Changes to other packages' tables go through their repositories (suspension in `auth`, refund
counts in `api.research`, tickets in `api.support`); this module only reads them. Every query
here is served by an index (see migrations/0001_schema.sql and 0050_admin_indexes.sql); the
one deliberate scan is the email substring search, over `users` only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import class_row

STATS_DAYS = 30


@dataclass(frozen=True)
class UserRow:
    id: UUID
    email: str
    first_name: str
    last_name: str
    is_admin: bool
    created_at: datetime
    suspended_at: datetime | None
    credits: int


@dataclass(frozen=True)
class UserDetail(UserRow):
    email_verified: bool
    marketing_emails_enabled: bool
    stripe_customer_id: str | None
    jobs_count: int
    open_tickets: int


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
class SignupBucket:
    day: datetime
    count: int


@dataclass(frozen=True)
class JobBucket:
    day: datetime
    count: int
    credits_charged_sum: int
    cost_usd_micros_sum: int


@dataclass(frozen=True)
class Totals:
    topup_revenue_last_30d_cents: int
    total_users: int
    suspended_users: int
    open_tickets: int
    in_flight_jobs: int
    ledger_balance_outstanding: int


_USER_COLUMNS = """u.id, u.email, u.first_name, u.last_name, u.is_admin, u.created_at, u.suspended_at,
    coalesce(a.balance, 0) AS credits"""

# `q` is either an exact id (primary key) or a lower-cased email fragment (LIKE, escaped).
USERS_PAGE = f"""
SELECT {_USER_COLUMNS}
FROM users u LEFT JOIN credit_accounts a ON a.user_id = u.id
WHERE (%(id)s::uuid IS NULL OR u.id = %(id)s)
  AND (%(fragment)s::text IS NULL OR u.email LIKE '%%' || %(fragment)s || '%%' ESCAPE '\\')
ORDER BY u.created_at DESC, u.id DESC
LIMIT %(limit)s OFFSET %(offset)s"""

USER_DETAIL = f"""
SELECT {_USER_COLUMNS}, u.email_verified_at IS NOT NULL AS email_verified, u.marketing_emails_enabled,
       u.stripe_customer_id,
       (SELECT count(*) FROM research_jobs j WHERE j.user_id = u.id) AS jobs_count,
       (SELECT count(*) FROM support_tickets t WHERE t.user_id = u.id AND t.status = 'open') AS open_tickets
FROM users u LEFT JOIN credit_accounts a ON a.user_id = u.id
WHERE u.id = %(id)s"""

_JOB_SUMMARY_COLUMNS = """j.id, j.user_id, u.email AS user_email, j.created_at, j.status, j.question,
    j.credits_charged, j.cost_usd_micros, j.latency_ms"""

# With `user_email` the user is found by users_email_key and the jobs by research_jobs_user_idx;
# with `status` alone by research_jobs_status_idx; with neither by research_jobs_created_idx.
JOBS_PAGE = f"""
SELECT {_JOB_SUMMARY_COLUMNS}
FROM research_jobs j JOIN users u ON u.id = j.user_id
WHERE (%(email)s::text IS NULL OR u.email = %(email)s)
  AND (%(status)s::text IS NULL OR j.status = %(status)s)
ORDER BY j.created_at DESC, j.id DESC
LIMIT %(limit)s OFFSET %(offset)s"""

JOB_DETAIL = f"""
SELECT {_JOB_SUMMARY_COLUMNS}, j.credits_reserved, j.credits_refunded, j.request, j.result, j.error,
       j.completed_at, j.wave_count, j.source_count
FROM research_jobs j JOIN users u ON u.id = j.user_id
WHERE j.id = %(id)s"""

# Days are UTC calendar days: today and the 29 before it, zero-filled. Rows are binned with
# date_bin from the window's first UTC midnight: plain arithmetic, no time zone lookup per row.
_WINDOW = f"""
WITH days AS (
    SELECT generate_series(date_trunc('day', now(), 'UTC') - interval '{STATS_DAYS - 1} days',
                           date_trunc('day', now(), 'UTC'), interval '1 day') AS day
), bounds AS (
    SELECT min(day) AS since FROM days
)"""

# users_created_at_idx
SIGNUPS_BY_DAY = (
    _WINDOW
    + """
, counted AS (
    SELECT date_bin('1 day', u.created_at, bounds.since) AS day, count(*) AS count
    FROM users u, bounds WHERE u.created_at >= bounds.since GROUP BY 1
)
SELECT d.day, coalesce(c.count, 0) AS count
FROM days d LEFT JOIN counted c USING (day) ORDER BY d.day"""
)

# research_jobs_daily_idx (created_at INCLUDE the summed columns): an index-only scan.
JOBS_BY_DAY = (
    _WINDOW
    + """
, counted AS (
    SELECT date_bin('1 day', j.created_at, bounds.since) AS day, count(*) AS count,
           sum(j.credits_charged) AS credits_charged_sum, sum(j.cost_usd_micros) AS cost_usd_micros_sum
    FROM research_jobs j, bounds WHERE j.created_at >= bounds.since GROUP BY 1
)
SELECT d.day, coalesce(c.count, 0) AS count,
       coalesce(c.credits_charged_sum, 0)::bigint AS credits_charged_sum,
       coalesce(c.cost_usd_micros_sum, 0)::bigint AS cost_usd_micros_sum
FROM days d LEFT JOIN counted c USING (day) ORDER BY d.day"""
)

# Each scalar has its index: payments_completed_idx, users_suspended_idx, support_tickets_status_idx,
# research_jobs_status_idx; the user count and outstanding balance read one narrow row per user.
TOTALS = (
    _WINDOW
    + """
SELECT
    (SELECT coalesce(sum(p.pack_amount_cents - p.refunded_cents), 0) FROM payments p, bounds
     WHERE p.status = 'succeeded' AND p.completed_at >= bounds.since)::bigint AS topup_revenue_last_30d_cents,
    (SELECT count(*) FROM users) AS total_users,
    (SELECT count(*) FROM users WHERE suspended_at IS NOT NULL) AS suspended_users,
    (SELECT count(*) FROM support_tickets WHERE status = 'open') AS open_tickets,
    (SELECT count(*) FROM research_jobs WHERE status IN ('queued', 'running')) AS in_flight_jobs,
    (SELECT coalesce(sum(balance), 0) FROM credit_accounts)::bigint AS ledger_balance_outstanding"""
)


def like_fragment(text: str) -> str:
    """`text` as a literal inside a LIKE pattern (ESCAPE '\\')."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class AdminRepository:
    async def users_page(
        self,
        conn: AsyncConnection,
        *,
        user_id: UUID | None,
        email_fragment: str | None,
        limit: int,
        offset: int,
    ) -> list[UserRow]:
        cur = conn.cursor(row_factory=class_row(UserRow))
        fragment = like_fragment(email_fragment) if email_fragment is not None else None
        await cur.execute(USERS_PAGE, {"id": user_id, "fragment": fragment, "limit": limit, "offset": offset})
        return await cur.fetchall()

    async def user_detail(self, conn: AsyncConnection, user_id: UUID) -> UserDetail | None:
        cur = conn.cursor(row_factory=class_row(UserDetail))
        await cur.execute(USER_DETAIL, {"id": user_id})
        return await cur.fetchone()

    async def jobs_page(
        self, conn: AsyncConnection, *, user_email: str | None, status: str | None, limit: int, offset: int
    ) -> list[JobSummary]:
        cur = conn.cursor(row_factory=class_row(JobSummary))
        await cur.execute(
            JOBS_PAGE, {"email": user_email, "status": status, "limit": limit, "offset": offset}
        )
        return await cur.fetchall()

    async def job_detail(self, conn: AsyncConnection, job_id: UUID) -> JobDetail | None:
        cur = conn.cursor(row_factory=class_row(JobDetail))
        await cur.execute(JOB_DETAIL, {"id": job_id})
        return await cur.fetchone()

    async def signups_by_day(self, conn: AsyncConnection) -> list[SignupBucket]:
        cur = conn.cursor(row_factory=class_row(SignupBucket))
        await cur.execute(SIGNUPS_BY_DAY)
        return await cur.fetchall()

    async def jobs_by_day(self, conn: AsyncConnection) -> list[JobBucket]:
        cur = conn.cursor(row_factory=class_row(JobBucket))
        await cur.execute(JOBS_BY_DAY)
        return await cur.fetchall()

    async def totals(self, conn: AsyncConnection) -> Totals:
        cur = conn.cursor(row_factory=class_row(Totals))
        await cur.execute(TOTALS)
        return await cur.fetchone()
