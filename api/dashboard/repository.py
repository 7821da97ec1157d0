"""SQL behind the dashboard: the activity log and daily usage of one user."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from psycopg import AsyncConnection

LOG_COLUMNS = (
    "id, created_at, status, question, mode, credits_charged, cost_usd_micros, latency_ms,"
    " source_count, wave_count"
)

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


class DashboardRepository:
    async def log_rows(
        self, conn: AsyncConnection, user_id: UUID, *, status: str | None, limit: int, offset: int
    ) -> list[dict]:
        cur = await conn.execute(
            f"SELECT {LOG_COLUMNS} FROM research_jobs WHERE user_id = %(user)s"
            " AND (%(status)s::text IS NULL OR status = %(status)s)"
            " ORDER BY created_at DESC, id DESC LIMIT %(limit)s OFFSET %(offset)s",
            {"user": user_id, "status": status, "limit": limit, "offset": offset},
        )
        return await cur.fetchall()

    async def daily_usage(
        self, conn: AsyncConnection, user_id: UUID, first: datetime, last: datetime
    ) -> list[dict]:
        cur = await conn.execute(DAILY_USAGE_SQL, {"user": user_id, "first": first, "last": last})
        return await cur.fetchall()
