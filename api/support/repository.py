"""SQL for support tickets and their replies (the tables belong to this package)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import class_row


@dataclass(frozen=True)
class Ticket:
    id: UUID
    user_id: UUID | None
    email: str
    category: str
    subject: str
    body: str
    status: str
    assigned_admin_id: UUID | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class TicketSummary:
    """One line of the admin's ticket list."""

    id: UUID
    user_id: UUID | None
    email: str
    category: str
    subject: str
    status: str
    created_at: datetime
    reply_count: int


@dataclass(frozen=True)
class TicketReply:
    id: UUID
    ticket_id: UUID
    admin_id: UUID | None
    body: str
    sent_email: bool
    created_at: datetime


_TICKET_COLUMNS = (
    "id, user_id, email, category, subject, body, status, assigned_admin_id, created_at, updated_at"
)
_REPLY_COLUMNS = "id, ticket_id, admin_id, body, sent_email, created_at"

INSERT_TICKET = f"""
INSERT INTO support_tickets (user_id, email, category, subject, body)
VALUES (%(user_id)s, %(email)s, %(category)s, %(subject)s, %(body)s)
RETURNING {_TICKET_COLUMNS}"""

# Newest first. Served by support_tickets_status_idx, support_tickets_category_idx or
# support_tickets_created_idx depending on the filters; reply counts by ticket_replies_ticket_idx.
TICKETS_PAGE = """
SELECT t.id, t.user_id, t.email, t.category, t.subject, t.status, t.created_at,
       (SELECT count(*) FROM ticket_replies r WHERE r.ticket_id = t.id) AS reply_count
FROM support_tickets t
WHERE (%(status)s::text IS NULL OR t.status = %(status)s)
  AND (%(category)s::text IS NULL OR t.category = %(category)s)
  AND (%(user_id)s::uuid IS NULL OR t.user_id = %(user_id)s)
ORDER BY t.created_at DESC, t.id DESC
LIMIT %(limit)s OFFSET %(offset)s"""

INSERT_REPLY = f"""
WITH reply AS (
    INSERT INTO ticket_replies (ticket_id, admin_id, body, sent_email)
    VALUES (%(ticket_id)s, %(admin_id)s, %(body)s, %(sent_email)s)
    RETURNING {_REPLY_COLUMNS}
), touched AS (
    UPDATE support_tickets SET updated_at = now(), assigned_admin_id = coalesce(assigned_admin_id, %(admin_id)s)
    WHERE id = %(ticket_id)s
)
SELECT * FROM reply"""

# Only a change of state matches, so the caller learns whether this call changed anything.
SET_STATUS = """
UPDATE support_tickets SET status = %(status)s, updated_at = now()
WHERE id = %(id)s AND status <> %(status)s"""


class TicketRepository:
    async def insert(
        self, conn: AsyncConnection, *, user_id: UUID, email: str, category: str, subject: str, body: str
    ) -> Ticket:
        cur = conn.cursor(row_factory=class_row(Ticket))
        await cur.execute(
            INSERT_TICKET,
            {"user_id": user_id, "email": email, "category": category, "subject": subject, "body": body},
        )
        return await cur.fetchone()

    async def get(self, conn: AsyncConnection, ticket_id: UUID, *, for_update: bool = False) -> Ticket | None:
        cur = conn.cursor(row_factory=class_row(Ticket))
        lock = " FOR UPDATE" if for_update else ""
        await cur.execute(f"SELECT {_TICKET_COLUMNS} FROM support_tickets WHERE id = %s{lock}", (ticket_id,))
        return await cur.fetchone()

    async def page(
        self,
        conn: AsyncConnection,
        *,
        status: str | None,
        category: str | None,
        limit: int,
        offset: int,
        user_id: UUID | None = None,
    ) -> list[TicketSummary]:
        """Newest first; `user_id` narrows to one user's tickets (their own list)."""
        cur = conn.cursor(row_factory=class_row(TicketSummary))
        await cur.execute(
            TICKETS_PAGE,
            {"status": status, "category": category, "limit": limit, "offset": offset, "user_id": user_id},
        )
        return await cur.fetchall()

    async def replies(self, conn: AsyncConnection, ticket_id: UUID) -> list[TicketReply]:
        cur = conn.cursor(row_factory=class_row(TicketReply))
        await cur.execute(
            f"SELECT {_REPLY_COLUMNS} FROM ticket_replies WHERE ticket_id = %s ORDER BY created_at, id",
            (ticket_id,),
        )
        return await cur.fetchall()

    async def insert_reply(
        self, conn: AsyncConnection, *, ticket_id: UUID, admin_id: UUID, body: str, sent_email: bool
    ) -> TicketReply:
        """The reply; the ticket is touched and, if nobody had it, assigned to the replying admin."""
        cur = conn.cursor(row_factory=class_row(TicketReply))
        await cur.execute(
            INSERT_REPLY,
            {"ticket_id": ticket_id, "admin_id": admin_id, "body": body, "sent_email": sent_email},
        )
        return await cur.fetchone()

    async def set_status(self, conn: AsyncConnection, ticket_id: UUID, status: str) -> bool:
        """True when the ticket was not already in `status`."""
        cur = await conn.execute(SET_STATUS, {"id": ticket_id, "status": status})
        return cur.rowcount == 1
