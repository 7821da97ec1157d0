"""The dashboard's rules: anonymised logs, recent jobs, zero-filled daily usage in UTC."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from uuid import UUID

from api.dashboard.schemas import LogRow, RecentJob, UsageBucket
from api.research.repository import JobRepository
from core.db import Database
from core.errors import InvalidRequest

RECENT_COUNT = 10
DEFAULT_USAGE_DAYS = 30
MAX_USAGE_DAYS = 366


def anonymized(user_id: UUID, question: str) -> str:
    """A stable placeholder: the same question always gets the same tag, text never leaves."""
    tag = hashlib.sha256(f"{user_id}:{question}".encode()).hexdigest()[:10]
    return f"[redacted #{tag}]"


def _utc_day(moment: datetime) -> datetime:
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return datetime(moment.year, moment.month, moment.day, tzinfo=UTC)


def usage_window(
    start: datetime | None, end: datetime | None, *, now: datetime | None = None
) -> tuple[datetime, datetime]:
    """First and last UTC day of a usage request (both inclusive); 30 days ending today by default."""
    last = _utc_day(end or now or datetime.now(UTC))
    first = _utc_day(start) if start else last - timedelta(days=DEFAULT_USAGE_DAYS - 1)
    if first > last:
        raise InvalidRequest("from must not be after to", field="from")
    if (last - first).days + 1 > MAX_USAGE_DAYS:
        raise InvalidRequest(f"at most {MAX_USAGE_DAYS} days per request", field="from")
    return first, last


class DashboardService:
    def __init__(self, db: Database):
        self.db = db
        self.jobs = JobRepository()

    async def logs(
        self, user_id: UUID, *, status: str | None, limit: int, offset: int, anonymize: bool
    ) -> list[LogRow]:
        async with self.db.connection() as conn:
            rows = await self.jobs.log_page(conn, user_id, status=status, limit=limit, offset=offset)
        if anonymize:
            rows = [{**row, "question": anonymized(user_id, row["question"])} for row in rows]
        return [LogRow(**row) for row in rows]

    async def recent(self, user_id: UUID) -> list[RecentJob]:
        async with self.db.connection() as conn:
            rows = await self.jobs.log_page(conn, user_id, status=None, limit=RECENT_COUNT, offset=0)
        return [RecentJob(**row) for row in rows]

    async def usage(self, user_id: UUID, start: datetime | None, end: datetime | None) -> list[UsageBucket]:
        first, last = usage_window(start, end)
        async with self.db.connection() as conn:
            rows = await self.jobs.daily_usage(conn, user_id, first, last)
        return [UsageBucket(**row) for row in rows]
