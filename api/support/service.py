"""Submitting a ticket: the row and its confirmation mail commit together."""

from __future__ import annotations

from api.support.repository import Ticket, TicketRepository, TicketSummary
from api.support.schemas import TicketBody
from auth.models import User
from core.db import Database
from core.errors import Forbidden
from core.mail import Mailer
from core.ratelimit import RateLimiter

TICKETS_PER_USER_PER_HOUR = 10


class EmailNotVerified(Forbidden):
    code = "email_not_verified"
    detail = "Verify your email address before contacting support"


class SupportService:
    def __init__(self, db: Database, mailer: Mailer, limits: RateLimiter):
        self.db = db
        self.mailer = mailer
        self.limits = limits
        self.tickets = TicketRepository()

    async def submit(self, user: User, ticket: TicketBody) -> Ticket:
        """Stored with the user's current email, so replies reach them even if the account goes.
        Only a verified address may open tickets, and only so many an hour: each one mails that
        address, and an unverified one may be someone else's."""
        if not user.email_verified:
            raise EmailNotVerified()
        await self.limits.enforce(f"support:user:{user.id}", TICKETS_PER_USER_PER_HOUR, 3600)
        async with self.db.transaction() as tx:
            stored = await self.tickets.insert(
                tx,
                user_id=user.id,
                email=user.email,
                category=ticket.category,
                subject=ticket.subject,
                body=ticket.body,
            )
            confirmation = await self.mailer.enqueue(
                tx, "ticket_received", user.email, ticket_id=stored.id, subject=stored.subject
            )
        self.mailer.dispatch(confirmation)
        return stored

    async def tickets_of(self, user: User, *, limit: int, offset: int) -> list[TicketSummary]:
        """The user's own tickets, newest first (the dashboard's "My tickets")."""
        async with self.db.connection() as conn:
            return await self.tickets.page(
                conn, status=None, category=None, limit=limit, offset=offset, user_id=user.id
            )
