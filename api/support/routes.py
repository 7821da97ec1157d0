"""HTTP for support: a signed-in user submits a ticket and lists their own."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.support.schemas import MyTicket, TicketBody, TicketReceipt
from api.support.service import SupportService
from auth.deps import CurrentUser
from core.deps import DbDep
from core.errors import error_responses
from core.mail import MailerDep
from core.ratelimit import RateLimiterDep


async def get_support_service(db: DbDep, mailer: MailerDep, limits: RateLimiterDep) -> SupportService:
    return SupportService(db, mailer, limits)


SupportServiceDep = Annotated[SupportService, Depends(get_support_service)]

router = APIRouter(tags=["support"])


@router.post(
    "/api/support",
    operation_id="submit",
    response_description="Ticket submitted",
    responses=error_responses(400, 401, 403, 429),
)
async def submit(body: TicketBody, user: CurrentUser, support: SupportServiceDep) -> TicketReceipt:
    ticket = await support.submit(user, body)
    return TicketReceipt(id=ticket.id, status=ticket.status, created_at=ticket.created_at)


@router.get(
    "/api/support",
    operation_id="my_tickets",
    response_description="The caller's tickets, newest first",
    responses=error_responses(400, 401, 403),
)
async def my_tickets(
    user: CurrentUser,
    support: SupportServiceDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[MyTicket]:
    tickets = await support.tickets_of(user, limit=limit, offset=offset)
    return [
        MyTicket(
            id=t.id,
            category=t.category,
            subject=t.subject,
            status=t.status,
            created_at=t.created_at,
            reply_count=t.reply_count,
        )
        for t in tickets
    ]
