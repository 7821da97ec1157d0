"""SQL of the admin surface: read models across accounts, tickets and money, and the stats.

Jobs are read through their owner, `api.research.repository`, and the audit log through
`core.audit`. Changes to other packages' tables go through their repositories (suspension in
`auth`, refund counts in `api.research`, tickets in `api.support`); this module only reads them. Every query
here is served by an index (see migrations/0001_schema.sql and 0050_admin_indexes.sql); the
one deliberate scan is the email substring search, over `users` only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import class_row

from core.db import utc_days_cte

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
    open_tickets: int
    jobs_count: int = 0  # from the jobs' repository (AdminService.user)


@dataclass(frozen=True)
class SignupBucket:
    day: datetime
    count: int


@dataclass(frozen=True)
class Totals:
    topup_revenue_last_30d_cents: int
    total_users: int
    suspended_users: int
    open_tickets: int
    ledger_balance_outstanding: int
    in_flight_jobs: int = 0  # from the jobs' repository (AdminService.stats)


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
       (SELECT count(*) FROM support_tickets t WHERE t.user_id = u.id AND t.status = 'open') AS open_tickets
FROM users u LEFT JOIN credit_accounts a ON a.user_id = u.id
WHERE u.id = %(id)s"""

_WINDOW = utc_days_cte(STATS_DAYS)

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

# Each scalar has its index: payments_completed_idx, users_suspended_idx, support_tickets_status_idx;
# the user count and outstanding balance read one narrow row per user.
TOTALS = (
    _WINDOW
    + """
SELECT
    (SELECT coalesce(sum(p.pack_amount_cents - p.refunded_cents), 0) FROM payments p, bounds
     WHERE p.status = 'succeeded' AND p.completed_at >= bounds.since)::bigint AS topup_revenue_last_30d_cents,
    (SELECT count(*) FROM users) AS total_users,
    (SELECT count(*) FROM users WHERE suspended_at IS NOT NULL) AS suspended_users,
    (SELECT count(*) FROM support_tickets WHERE status = 'open') AS open_tickets,
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

    async def signups_by_day(self, conn: AsyncConnection) -> list[SignupBucket]:
        cur = conn.cursor(row_factory=class_row(SignupBucket))
        await cur.execute(SIGNUPS_BY_DAY)
        return await cur.fetchall()

    async def totals(self, conn: AsyncConnection) -> Totals:
        cur = conn.cursor(row_factory=class_row(Totals))
        await cur.execute(TOTALS)
        return await cur.fetchone()
