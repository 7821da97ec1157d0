"""Dashboard DTOs of the contract: LogRow, RecentJob, UsageBucket."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel

from api.research.schemas import JobStatus, ResearchMode


class LogRow(BaseModel):
    id: UUID
    created_at: datetime
    status: JobStatus
    question: str
    mode: ResearchMode | None = None
    credits_charged: int
    cost_usd_micros: int
    latency_ms: int | None = None
    source_count: int | None = None
    wave_count: int | None = None


class RecentJob(BaseModel):
    id: UUID
    created_at: datetime
    status: JobStatus
    question: str
    credits_charged: int
    latency_ms: int | None = None


class UsageBucket(BaseModel):
    day: datetime
    credits: int
    jobs: int
    cost_usd_micros: int
