"""HTTP for the admin surface. Every route takes `AdminUser` (401 without a session, 403 for
non-admins) and pages with `limit` (default 50, at most 200) and `offset`."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Path, Query

from api.admin.repository import UserDetail
from api.admin.schemas import (
    AdminAuditRow,
    AdminJobBucket,
    AdminJobDetail,
    AdminJobRow,
    AdminOutboxTaskRow,
    AdminSignupBucket,
    AdminStatsDto,
    AdminTicketDetail,
    AdminTicketReply,
    AdminTicketRow,
    AdminUserDetail,
    AdminUserJobRow,
    AdminUserRow,
    RefundBody,
    RefundResult,
    ReplyBody,
)
from api.admin.service import AdminService
from api.research.repository import JobDetail, JobSummary
from api.research.schemas import JobStatus
from api.support.repository import Ticket, TicketReply
from auth.deps import AdminUser
from core.deps import DbDep, RedisDep, SettingsDep
from core.errors import error_responses
from core.mail import MailerDep
from core.pagination import PageDep


async def get_admin_service(
    db: DbDep, redis: RedisDep, settings: SettingsDep, mailer: MailerDep
) -> AdminService:
    return AdminService(db, redis, settings, mailer)


AdminServiceDep = Annotated[AdminService, Depends(get_admin_service)]
UserId = Annotated[UUID, Path(description="User id")]
JobId = Annotated[UUID, Path(description="Job id")]
TicketId = Annotated[UUID, Path(description="Ticket id")]
IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description=("Makes a resubmit safe: the same key answers the first refund and writes nothing."),
    ),
]

router = APIRouter(prefix="/api/admin", tags=["admin"])


def _user_detail(user: UserDetail) -> AdminUserDetail:
    return AdminUserDetail.model_validate(user, from_attributes=True)


def _job_row(job: JobSummary) -> AdminJobRow:
    return AdminJobRow.model_validate(job, from_attributes=True)


def _job_detail(job: JobDetail) -> AdminJobDetail:
    return AdminJobDetail.model_validate({**job.__dict__, "response": job.result or {}})


def _ticket_detail(ticket: Ticket, replies: list[TicketReply]) -> AdminTicketDetail:
    return AdminTicketDetail.model_validate({**ticket.__dict__, "replies": [_reply(r) for r in replies]})


def _reply(reply: TicketReply) -> AdminTicketReply:
    return AdminTicketReply.model_validate(reply, from_attributes=True)


# -- users --------------------------------------------------------------------------------------


@router.get(
    "/users",
    operation_id="list_users",
    response_description="Users page",
    responses=error_responses(400, 401, 403),
)
async def list_users(
    admin: AdminUser,
    service: AdminServiceDep,
    page: PageDep,
    q: Annotated[
        str | None,
        Query(max_length=320, description=("Substring match against email or full UUID equality.")),
    ] = None,
) -> list[AdminUserRow]:
    return [AdminUserRow.model_validate(u, from_attributes=True) for u in await service.users_page(q, page)]


@router.get(
    "/users/{id}",
    operation_id="user_detail",
    response_description="User detail",
    responses=error_responses(401, 403, 404),
)
async def user_detail(id: UserId, admin: AdminUser, service: AdminServiceDep) -> AdminUserDetail:
    return _user_detail(await service.user(id))


@router.post(
    "/users/{id}/suspend",
    operation_id="suspend",
    response_description="User suspended",
    responses=error_responses(400, 401, 403, 404),
)
async def suspend(id: UserId, admin: AdminUser, service: AdminServiceDep) -> AdminUserDetail:
    """Sessions end, API keys answer 403, queued and running jobs are canceled."""
    return _user_detail(await service.suspend(admin, id))


@router.post(
    "/users/{id}/unsuspend",
    operation_id="unsuspend",
    response_description="User unsuspended",
    responses=error_responses(401, 403, 404),
)
async def unsuspend(id: UserId, admin: AdminUser, service: AdminServiceDep) -> AdminUserDetail:
    return _user_detail(await service.unsuspend(admin, id))


@router.get(
    "/users/{id}/jobs",
    operation_id="user_jobs",
    response_description="Research jobs",
    responses=error_responses(400, 401, 403, 404),
)
async def user_jobs(
    id: UserId, admin: AdminUser, service: AdminServiceDep, page: PageDep
) -> list[AdminUserJobRow]:
    return [
        AdminUserJobRow.model_validate(j, from_attributes=True) for j in await service.user_jobs(id, page)
    ]


# -- jobs -----------------------------------------------------------------------------------------


@router.get(
    "/jobs",
    operation_id="list_jobs",
    response_description="Jobs page",
    responses=error_responses(400, 401, 403),
)
async def list_jobs(
    admin: AdminUser,
    service: AdminServiceDep,
    page: PageDep,
    user_email: Annotated[str | None, Query(max_length=320)] = None,
    status: JobStatus | None = None,
) -> list[AdminJobRow]:
    return [_job_row(j) for j in await service.jobs_page(user_email=user_email, status=status, page=page)]


@router.get(
    "/jobs/{id}",
    operation_id="job_detail",
    response_description="Job detail",
    responses=error_responses(401, 403, 404),
)
async def job_detail(id: JobId, admin: AdminUser, service: AdminServiceDep) -> AdminJobDetail:
    return _job_detail(await service.job(id))


@router.post(
    "/jobs/{id}/refund",
    operation_id="refund_job",
    response_description="Refund applied",
    responses=error_responses(400, 401, 403, 404, 409),
)
async def refund_job(
    id: JobId,
    body: RefundBody,
    admin: AdminUser,
    service: AdminServiceDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> RefundResult:
    """Without a key every submit is its own refund; with one, a resubmit answers the first."""
    refund = await service.refund(
        admin, id, credits=body.credits, note=body.note, idempotency_key=idempotency_key or str(uuid.uuid4())
    )
    return RefundResult(
        job_id=refund.job.id,
        credits=refund.credits,
        credits_refunded=refund.job.credits_refunded,
        balance_after=refund.entry.balance_after,
        ledger_entry_id=refund.entry.id,
    )


# -- tickets ------------------------------------------------------------------------------------


@router.get(
    "/tickets",
    operation_id="list_tickets",
    response_description="Tickets page",
    responses=error_responses(400, 401, 403),
)
async def list_tickets(
    admin: AdminUser,
    service: AdminServiceDep,
    page: PageDep,
    status: str | None = None,
    category: str | None = None,
) -> list[AdminTicketRow]:
    tickets = await service.tickets_page(status=status, category=category, page=page)
    return [AdminTicketRow.model_validate(t, from_attributes=True) for t in tickets]


@router.get(
    "/tickets/{id}",
    operation_id="ticket_detail",
    response_description="Ticket detail",
    responses=error_responses(401, 403, 404),
)
async def ticket_detail(id: TicketId, admin: AdminUser, service: AdminServiceDep) -> AdminTicketDetail:
    return _ticket_detail(*await service.ticket(id))


@router.post(
    "/tickets/{id}/close",
    operation_id="close_ticket",
    response_description="Ticket closed",
    responses=error_responses(401, 403, 404),
)
async def close_ticket(id: TicketId, admin: AdminUser, service: AdminServiceDep) -> AdminTicketDetail:
    return _ticket_detail(*await service.set_ticket_status(admin, id, "closed"))


@router.post(
    "/tickets/{id}/reopen",
    operation_id="reopen_ticket",
    response_description="Ticket reopened",
    responses=error_responses(401, 403, 404),
)
async def reopen_ticket(id: TicketId, admin: AdminUser, service: AdminServiceDep) -> AdminTicketDetail:
    return _ticket_detail(*await service.set_ticket_status(admin, id, "open"))


@router.post(
    "/tickets/{id}/reply",
    operation_id="reply_ticket",
    response_description="Reply created",
    responses=error_responses(400, 401, 403, 404),
)
async def reply_ticket(
    id: TicketId, body: ReplyBody, admin: AdminUser, service: AdminServiceDep
) -> AdminTicketReply:
    return _reply(await service.reply(admin, id, body=body.body, send_email=body.send_email))


# -- stats and audit -------------------------------------------------------------------------------


@router.get(
    "/stats",
    operation_id="stats",
    response_description="Admin overview stats",
    responses=error_responses(401, 403),
)
async def stats(admin: AdminUser, service: AdminServiceDep) -> AdminStatsDto:
    """Last 30 UTC days (today included), zero-filled, oldest first; totals as of now."""
    found = await service.stats()
    return AdminStatsDto(
        signups_last_30d=[AdminSignupBucket(day=b.day, count=b.count) for b in found.signups],
        jobs_last_30d=[AdminJobBucket.model_validate(b, from_attributes=True) for b in found.jobs],
        **asdict(found.totals),
    )


@router.get(
    "/audit",
    operation_id="audit_log",
    response_description="Audit rows, newest first",
    responses=error_responses(400, 401, 403),
)
async def audit_log(
    admin: AdminUser,
    service: AdminServiceDep,
    page: PageDep,
    target_type: Annotated[str | None, Query(max_length=50)] = None,
    target_id: Annotated[str | None, Query(max_length=100)] = None,
) -> list[AdminAuditRow]:
    """Every admin mutation: who, what, on which target, with which payload, when."""
    entries = await service.audit_log(target_type=target_type, target_id=target_id, page=page)
    return [AdminAuditRow.model_validate(e, from_attributes=True) for e in entries]


@router.get(
    "/outbox",
    operation_id="list_outbox_tasks",
    response_description="Outbox tasks, newest first",
    responses=error_responses(400, 401, 403),
)
async def outbox_tasks(
    admin: AdminUser,
    service: AdminServiceDep,
    page: PageDep,
    status: Annotated[str | None, Query(description="pending | done | dead")] = None,
) -> list[AdminOutboxTaskRow]:
    """Side effects on their way (mail, meter reports, auto top-ups, Stripe events); `dead` ones
    gave up after their retries and need a look."""
    tasks = await service.outbox_page(status=status, page=page)
    return [AdminOutboxTaskRow.model_validate(t, from_attributes=True) for t in tasks]
