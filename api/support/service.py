"""Submitting a ticket: the row and its confirmation mail commit together."""

from __future__ import annotations

from api.support.repository import Ticket, TicketRepository
from api.support.schemas import TicketBody
from auth.models import User
from core.db import Database
from core.mail import Mailer


class SupportService:
    def __init__(self, db: Database, mailer: Mailer):
        self.db = db
        self.mailer = mailer
        self.tickets = TicketRepository()

    async def submit(self, user: User, ticket: TicketBody) -> Ticket:
        """Stored with the user's current email, so replies reach them even if the account goes."""
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
