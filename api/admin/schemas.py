"""Pydantic models of the admin operations in the contract (and the audit log page)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import AfterValidator, BaseModel, Field

from api.research.schemas import JobStatus
from api.support.schemas import MAX_BODY_CHARS, not_blank

MAX_NOTE_CHARS = 1000


class AdminUserRow(BaseModel):
    id: UUID
    email: str
    first_name: str
    last_name: str
    is_admin: bool
    created_at: datetime
    credits: int
    suspended_at: datetime | None = None


class AdminUserDetail(AdminUserRow):
    email_verified: bool
    marketing_emails_enabled: bool
    jobs_count: int
    open_tickets: int
    stripe_customer_id: str | None = None


class AdminUserJobRow(BaseModel):
    id: UUID
    created_at: datetime
    status: JobStatus
    question: str
    credits_charged: int
    cost_usd_micros: int
    latency_ms: int | None = None


class AdminJobRow(AdminUserJobRow):
    user_id: UUID
    user_email: str


class AdminJobDetail(AdminJobRow):
    credits_reserved: int
    credits_refunded: int
    request: dict[str, Any] = Field(description="Raw request body that was POSTed to `/v1/research`.")
    response: dict[str, Any] = Field(
        description="Raw final response (typed payload + brief + sources); "
        "empty while the job runs or when it produced nothing."
    )
    error: str | None = None
    completed_at: datetime | None = None
    wave_count: int | None = None
    source_count: int | None = None


class RefundBody(BaseModel):
    credits: Annotated[int, Field(strict=True, gt=0, le=10**12)]
    note: Annotated[str, Field(max_length=MAX_NOTE_CHARS), AfterValidator(not_blank)]


class RefundResult(BaseModel):
    job_id: UUID
    credits: int = Field(description="Credits this refund gave back.")
    credits_refunded: int = Field(description="All credits refunded on the job so far.")
    balance_after: int
    ledger_entry_id: UUID


class AdminTicketRow(BaseModel):
    id: UUID
    user_id: UUID | None = None
    email: str
    category: str
    subject: str
    status: str
    created_at: datetime
    reply_count: int


class AdminTicketReply(BaseModel):
    id: UUID
    admin_id: UUID | None = None
    body: str
    sent_email: bool
    created_at: datetime


class AdminTicketDetail(BaseModel):
    id: UUID
    user_id: UUID | None = None
    email: str
    category: str
    subject: str
    body: str
    status: str
    assigned_admin_id: UUID | None = None
    created_at: datetime
    replies: list[AdminTicketReply]


class ReplyBody(BaseModel):
    body: Annotated[str, Field(max_length=MAX_BODY_CHARS), AfterValidator(not_blank)]
    send_email: bool


class AdminSignupBucket(BaseModel):
    day: datetime
    count: int


class AdminJobBucket(BaseModel):
    day: datetime
    count: int
    credits_charged_sum: int
    cost_usd_micros_sum: int


class AdminStatsDto(BaseModel):
    signups_last_30d: list[AdminSignupBucket]
    jobs_last_30d: list[AdminJobBucket]
    topup_revenue_last_30d_cents: int
    total_users: int
    suspended_users: int
    open_tickets: int
    in_flight_jobs: int
    ledger_balance_outstanding: int


class AdminOutboxTaskRow(BaseModel):
    """A side effect waiting, done, or given up (`dead`: retries exhausted, see `last_error`)."""

    id: UUID
    kind: str
    dedupe_key: str | None = None
    status: str = Field(description="pending | done | dead")
    attempts: int
    run_after: datetime
    last_error: str | None = None
    created_at: datetime
    done_at: datetime | None = None


class AdminAuditRow(BaseModel):
    id: UUID
    admin_id: UUID
    action: str
    target_type: str
    target_id: str
    payload: dict[str, Any]
    created_at: datetime
